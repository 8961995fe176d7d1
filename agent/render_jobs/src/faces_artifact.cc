#include "farm/agent/faces_artifact.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "farm/faceid/pipeline.h"

namespace farm::agent {

StatusOr<FacesArtifact> MakeFacesArtifact(const faceid::FacePipeline& pipeline,
                                          const faceid::RgbImage& image) {
  FARM_ASSIGN_OR_RETURN(std::vector<faceid::Face> found, pipeline.Analyze(image));
  nlohmann::json doc = {{"model_version", pipeline.DescriptorModelVersion()},
                        {"width", image.width},
                        {"height", image.height},
                        {"faces", nlohmann::json::array()}};
  for (size_t i = 0; i < found.size(); ++i) {
    const faceid::Face& face = found[i];
    doc["faces"].push_back(
        {{"index", i},
         {"score", face.score},
         {"box",
          {{"x", face.box.x}, {"y", face.box.y}, {"width", face.box.width}, {"height", face.box.height}}},
         {"descriptor", std::vector<float>(face.descriptor.begin(), face.descriptor.end())}});
  }
  return FacesArtifact{doc.dump(), static_cast<int>(found.size())};
}

}  // namespace farm::agent
