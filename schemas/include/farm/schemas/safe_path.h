// Paths that come from a file, the database or the network and are joined to a root
// folder (artifact store, agent cache, unpacked bundles).
#pragma once

#include <string_view>

namespace farm {

// True when `path` is relative and cannot leave the folder it is joined to: not empty, no
// leading '/', no NUL, and no empty, "." or ".." component.
bool IsSafeRelativePath(std::string_view path);

}  // namespace farm
