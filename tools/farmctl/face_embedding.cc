#include "face_embedding.h"

#include "agent_call.h"

namespace farmctl {

namespace {
using nlohmann::json;
constexpr size_t kDescriptorSize = 128;
}  // namespace

farm::StatusOr<Embedding> ParseEmbedding(const json& answer, size_t expected_images) {
  try {
    Embedding embedding;
    embedding.model_version = answer.at("model_version").get<std::string>();
    if (embedding.model_version.empty()) return farm::DataLoss("farm-agent reported no model version");
    for (const json& image : answer.at("images")) {
      EmbeddedImage out;
      out.image = image.at("image").get<std::string>();
      out.ok = image.at("ok").get<bool>();
      if (!out.ok) {
        out.error = image.at("error").value("message", std::string("unknown error"));
        embedding.images.push_back(std::move(out));
        continue;
      }
      for (const json& face : image.at("faces")) {
        EmbeddedFace f;
        f.score = face.at("score").get<double>();
        const json& box = face.at("box");
        f.box_area = box.at("width").get<double>() * box.at("height").get<double>();
        f.descriptor = face.at("descriptor").get<farm::faceid::Descriptor>();
        if (f.descriptor.size() != kDescriptorSize) {
          return farm::DataLoss(out.image + ": a descriptor of " + std::to_string(f.descriptor.size()) +
                                " numbers, expected " + std::to_string(kDescriptorSize));
        }
        f.json = face;
        out.faces.push_back(std::move(f));
      }
      embedding.images.push_back(std::move(out));
    }
    if (embedding.images.size() != expected_images) {
      return farm::DataLoss("farm-agent answered for " + std::to_string(embedding.images.size()) +
                            " images, asked for " + std::to_string(expected_images));
    }
    return embedding;
  } catch (const json::exception& e) {
    return farm::DataLoss(std::string("farm-agent's embed answer is malformed: ") + e.what());
  }
}

farm::StatusOr<Embedding> EmbedImages(const std::string& agent_path, const std::string& models_dir,
                                      const std::vector<std::string>& images) {
  std::vector<std::string> args = {"faces", "embed", "--json"};
  if (!models_dir.empty()) {
    args.push_back("--models-dir");
    args.push_back(models_dir);
  }
  args.push_back("--");
  args.insert(args.end(), images.begin(), images.end());
  FARM_ASSIGN_OR_RETURN(AgentJson answer, RunAgentJson(agent_path, args));
  if (answer.value.contains("error") && !answer.value.contains("images")) {
    // The agent could not start the work (models missing, ...): its error is ours.
    return farm::FailedPrecondition("farm-agent faces embed: " +
                                    answer.value["error"].value("message", std::string("failed")));
  }
  return ParseEmbedding(answer.value, images.size());
}

int LargestFace(const EmbeddedImage& image) {
  int best = -1;
  for (size_t i = 0; i < image.faces.size(); ++i) {
    if (best < 0 || image.faces[i].box_area > image.faces[best].box_area) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace farmctl
