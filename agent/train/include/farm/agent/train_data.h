// A prepared dataset (agent/prepare) as training examples: the cached VAE latents of its
// images (encoded once per base checkpoint, see prepare_latents.h) and each caption's
// CLIP token ids, padded to 77 as kohya does (BOS, tokens, EOS, then EOS padding).
#pragma once

#include <string>
#include <vector>

#include "farm/agent/prepare_manifest.h"
#include "farm/schemas/status.h"
#include "farm/sd/clip_tokenizer.h"
#include "farm/sd/lora_trainer.h"

namespace farm::agent {

struct TrainData {
  DatasetManifest manifest;
  std::string latents_file;
  std::vector<sd::TrainExample> examples;
  std::vector<std::string> captions;  // per example
};

// Loads (and on first use computes) the latents of `dataset_folder` for `checkpoint`.
// Captions longer than 75 tokens are an error naming the image (kohya would truncate
// silently; a truncated caption trains something else than what the manifest says).
StatusOr<TrainData> LoadTrainData(const std::string& dataset_folder, const std::string& checkpoint,
                                  const sd::ClipTokenizer& tokenizer, bool flip, int threads);

}  // namespace farm::agent
