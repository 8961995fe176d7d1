// A light check of an identity photo before a sweep is submitted: the first bytes must be
// those of an image format the agent decodes (kernels/faceid's DecodeImageFile: JPEG with
// libjpeg, others through OpenCV), so a text file or a truncated download among the photos
// is named before any job starts. farmctl has no image decoder: this reads the magic bytes
// (and a PNG's IHDR), not the pixels.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farmctl {

// OK for JPEG, PNG, BMP, WebP, TIFF and PNM/PPM; otherwise an error naming the file and
// the formats expected: NotFound (no such file), InvalidArgument (empty, not an image).
farm::Status CheckPhotoFile(const std::string& path);

}  // namespace farmctl
