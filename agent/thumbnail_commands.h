// farm-agent thumbnails: downscaled JPEG copies of images, for farmctl report (farmctl
// never links OpenCV, so it runs this as a child process):
//   farm-agent thumbnails --size N --out DIR [--quality Q] FILE...
// Each image is shrunk (area averaging, never enlarged) to fit an N x N box and written as
// DIR/<sha256 of FILE's bytes>-<N>.jpg; an existing file of that name is reused (the name
// is the cache key). One JSON object per FILE on stdout, in order, as soon as it is done:
//   {"file":..., "sha256":..., "thumb":..., "width":w, "height":h, "cached":bool}
//   {"file":..., "error":"..."}   (unreadable or not an image; the others still run)
// Exit codes: 0 every file done, 1 some failed, 2 usage.
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers `thumbnails` on `app`. After parsing, RunThumbnailCommand runs it and returns
// the exit code, or -1 when `thumbnails` was not given.
void AddThumbnailCommand(CLI::App& app);
int RunThumbnailCommand(const CLI::App& app);

}  // namespace farm::agent
