// The dataset folder's life on disk: a temporary folder next to the final one, renamed
// into place when complete.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::agent::internal {

// A new empty folder out_root/.partial-<id prefix>-XXXXXX (out_root is created first).
StatusOr<std::string> MakeTemporaryDatasetFolder(const std::string& out_root, const std::string& dataset_id);

// Renames `temporary` to `final_folder`. Returns false (and removes `temporary`) when
// another process put a non-empty folder there first; errors for anything else.
StatusOr<bool> PublishDatasetFolder(const std::string& temporary, const std::string& final_folder);

// Removes a folder tree, ignoring errors (cleanup after a failure).
void RemoveFolderQuietly(const std::string& folder);

}  // namespace farm::agent::internal
