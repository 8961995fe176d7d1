// How farm-agent's face commands write what the face pipeline found: the JSON objects of
// `faces detect|embed|compare --json` (docs/faceid.md) and the human-readable lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farm/schemas/status.h"

namespace farm::agent {

// {"format", "width", "height", "original_width", "original_height", "exif_rotated",
//  "downscaled", "note"}: width/height are the analysed image's (face coordinates refer
// to it), original_* the decoded photo's.
nlohmann::json DecodeJson(const faceid::DecodedImage& decoded);

// {"index", "score", "box": {x, y, width, height}, "landmarks": [[x, y] x 68]}, plus with
// `with_descriptor` "descriptor_crop": {x, y, width, height}, "descriptor": [128],
// "descriptor_norm".
nlohmann::json FaceJson(const faceid::Face& face, int index, bool with_descriptor);

// {"code": "not_found", "message": ...}
nlohmann::json ErrorJson(const Status& status);

// "1920x1280 jpeg", plus ", EXIF-rotated", ", downscaled from WxH" and the note.
std::string DecodeSummary(const faceid::DecodedImage& decoded);

// "  #0  score 0.995  box 414,355 178x238" (and "  |d| 1.43" with the descriptor norm).
std::string FaceLine(const faceid::Face& face, int index, bool with_descriptor_norm);

// The descriptor's L2 norm (face-api descriptors are not normalised: about 1.4-1.5).
double DescriptorNorm(const faceid::Face& face);

}  // namespace farm::agent
