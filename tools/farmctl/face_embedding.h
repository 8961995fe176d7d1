// The answer of `farm-agent faces embed IMAGE... --json` (docs/faceid.md), read into
// structs for `farmctl identity add` and `farmctl score`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/faceid/face_score.h"
#include "farm/schemas/status.h"

namespace farmctl {

struct EmbeddedFace {
  double score = 0;
  double box_area = 0;  // width * height, pixels of the analysed image
  farm::faceid::Descriptor descriptor;
  nlohmann::json json;  // the face as the agent reported it
};

struct EmbeddedImage {
  std::string image;
  bool ok = false;
  std::string error;  // when !ok: the agent's message
  std::vector<EmbeddedFace> faces;
};

struct Embedding {
  std::string model_version;
  std::vector<EmbeddedImage> images;  // in the order asked
};

// Checks the shape (every face has a 128-number descriptor, the image count matches
// `expected_images`) and reads it. DataLoss names what is wrong.
farm::StatusOr<Embedding> ParseEmbedding(const nlohmann::json& answer, size_t expected_images);

// Runs `farm-agent faces embed IMAGES... --json --models-dir M` and parses the answer. A
// photo that could not be analysed is reported in its EmbeddedImage, not as an error.
farm::StatusOr<Embedding> EmbedImages(const std::string& agent_path, const std::string& models_dir,
                                      const std::vector<std::string>& images);

// The face with the largest box (the first one on ties); -1 when there is none.
int LargestFace(const EmbeddedImage& image);

}  // namespace farmctl
