// The "faces" artifact of a render job: the faces the face pipeline finds in an image,
// with their 128-d descriptors, as the JSON farmd's score jobs parse
// (coordinator/farmd/src/score_jobs.cc):
//   {"model_version", "width", "height",
//    "faces": [{"index", "score", "box": {"x", "y", "width", "height"}, "descriptor": [128]}]}
// Faces in the pipeline's order (descending score); no face gives "faces": [].
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::faceid {
class FacePipeline;
struct RgbImage;
}  // namespace farm::faceid

namespace farm::agent {

struct FacesArtifact {
  std::string json;  // the artifact's bytes
  int faces = 0;     // faces found
};

// Runs `pipeline` on `image` and writes the artifact. Errors are the pipeline's.
StatusOr<FacesArtifact> MakeFacesArtifact(const faceid::FacePipeline& pipeline,
                                          const faceid::RgbImage& image);

}  // namespace farm::agent
