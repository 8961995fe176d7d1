// Face-ID validation of LoRA checkpoints during training (EasyPhoto's selection): render
// fixed prompts and seeds with the checkpoint's LoRA merged into the base model, find the
// faces, and compare them with the identity's reference descriptors (those of the
// prepared training images) by cosine similarity (kernels/faceid/score).
//
// A step's score is the mean over its renders, a render without a face counting as 0; a
// step where no render shows a face has no score (the tiny test models draw none).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "farm/agent/prepare_manifest.h"
#include "farm/agent/train_config.h"
#include "farm/faceid/face_score.h"
#include "farm/schemas/status.h"
#include "farm/sd/engine.h"
#include "farm/sd/tensor_map.h"

namespace farm::faceid {
class FacePipeline;
}

namespace farm::agent {

struct ValidationRender {
  uint64_t seed = 0;
  int faces_found = 0;
  std::optional<double> similarity;
};

struct StepValidation {
  int64_t step = 0;
  std::vector<ValidationRender> renders;
  std::optional<double> score;
};

// The step score from its renders' similarities (see above).
std::optional<double> StepScore(const std::vector<ValidationRender>& renders);

class FaceValidator {
 public:
  // Loads the face models and computes the reference descriptors of the dataset's images
  // (the largest face of each). FailedPrecondition when no image yields a face.
  static StatusOr<std::unique_ptr<FaceValidator>> Create(const std::string& face_models_dir,
                                                         const std::string& dataset_folder,
                                                         const DatasetManifest& manifest);
  ~FaceValidator();

  // Renders every validation seed with `lora` (kohya tensors) merged at weight 1; the
  // engine's models must have no training adapters attached.
  StatusOr<StepValidation> Validate(sd::Engine& engine, const sd::TensorMap& lora, int64_t step,
                                    const ValidationConfig& config, const std::string& instance_token,
                                    int clip_skip) const;

  size_t reference_count() const { return reference_.descriptors.size(); }

 private:
  FaceValidator() = default;
  std::shared_ptr<const faceid::FacePipeline> faces_;
  faceid::IdentityReference reference_;
};

}  // namespace farm::agent
