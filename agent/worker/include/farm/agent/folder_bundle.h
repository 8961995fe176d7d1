// A folder as one artifact (a prepare job's dataset: manifest.json, images/, latents/):
// an uncompressed POSIX ustar archive, written deterministically (regular files only, in
// byte order of their '/'-separated relative paths, mode 0644, uid/gid 0, mtime 0, no
// owner names), so the same folder always gives the same bytes and the same SHA-256. Any
// tar tool lists or unpacks it (`tar tf dataset.tar`).
//
// Unbundling trusts nothing: header checksums, every size and offset, and every path are
// checked (relative, no '.', '..' or empty components, at most 255 bytes); only regular
// files and directories are accepted (no links, devices or fifos). It writes into a temp
// folder beside `dest` and renames it to `dest` when complete, so a crash never leaves a
// half folder under the final name.
#pragma once

#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm::agent {

// The archive of every regular file under `dir` (symlinks and other kinds are refused
// with InvalidArgument naming them). NotFound when `dir` is not a directory.
StatusOr<std::string> BundleFolder(const std::string& dir);

// Unpacks `archive` into the new folder `dest` (its parent must exist; an existing `dest`
// is AlreadyExists). DataLoss naming the entry for anything malformed or unsafe.
Status UnbundleFolder(std::string_view archive, const std::string& dest);

}  // namespace farm::agent
