// The files of a training run in its output folder:
//   lora-<step>.safetensors    the LoRA at a saved step, kohya format with kohya's ss_*
//                              metadata and sshs_* hashes (front ends load it by name and hash)
//   state-<step>.safetensors   everything to resume bit-identically (trainer state, see
//                              LoraTrainer::SaveState) with the settings' fingerprint
//   metrics.jsonl              one line per optimizer step: step, loss, lr, grad norm, seconds
//   result.json                the run's record, written at the end
// Steps are zero-padded to 6 digits so names sort by step. Every file is written to a
// temporary name and renamed, so a killed run leaves whole files only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/kohya_hashes.h"
#include "farm/sd/tensor_map.h"

namespace farm::agent {

std::string LoraFileName(int64_t step);
std::string StateFileName(int64_t step);

struct WrittenLora {
  std::string path;
  std::string sha256;  // of the file
  sd::KohyaLoraHashes hashes;
};

StatusOr<WrittenLora> WriteLoraCheckpoint(const std::string& out_dir, const std::string& name,
                                          const sd::TensorMap& tensors,
                                          const std::map<std::string, std::string>& metadata);

Status WriteTrainState(const std::string& out_dir, int64_t step, const sd::TensorMap& state,
                       const std::string& fingerprint, int world_size);

struct FoundState {
  int64_t step = 0;
  std::string path;
};

// The latest state file whose LoRA file also exists (a run killed between the two
// writes resumes from the previous step). nullopt when there is none. A state written
// with other settings or another world size is FailedPrecondition: the folder belongs to
// another run.
StatusOr<std::optional<FoundState>> FindLatestState(const std::string& out_dir, const std::string& fingerprint,
                                                    int world_size);

}  // namespace farm::agent
