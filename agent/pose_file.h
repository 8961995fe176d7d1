// The pose-library file `farm-agent pose extract --out` writes: the extraction's OpenPose
// people in the format of farm/image/pose.h (docs/poses.md), checked with ParsePoseJson
// before anything is written, and a preview of the control map beside it.
#pragma once

#include <string>
#include <vector>

#include "farm/pose/openpose.h"
#include "farm/schemas/status.h"

namespace farm::agent {

struct PoseFileText {
  std::string json;                // the document, as ParsePoseJson accepts it
  std::vector<std::string> notes;  // what was left out and why
};

// The people `people` (indices into document.people) of `document`. The library wants
// visible points on the canvas: a point MoveNet or the hand net placed outside the photo
// (in the padding) becomes (0, 0, 0), and a person left without a visible body point is
// dropped; both are noted. `description` goes into the file. InvalidArgument when no
// person remains, naming why.
StatusOr<PoseFileText> PoseLibraryJson(const pose::OpenPoseDocument& document, const std::vector<int>& people,
                                       const std::string& description);

// Writes `text` to `pose_path` and the control map (farm/image/pose_render.h, at the canvas
// size scaled so its longer side is at most 768 px) to `preview_path` (PNG; skipped when
// empty). Without `force` an existing file is AlreadyExists and nothing is written.
Status WritePoseFiles(const std::string& text, const std::string& pose_path, const std::string& preview_path,
                      bool force);

}  // namespace farm::agent
