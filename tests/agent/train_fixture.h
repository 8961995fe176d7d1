// What the farm-train tests train on: the tiny model (farm-agent make-tiny-model) in
// <dir>/models/sd and a dataset prepared from the first face-api demo photos at 64 px.
#pragma once

#include <optional>
#include <string>

namespace farm::agent::testing {

struct TrainFixture {
  std::string dir;
  std::string checkpoint;         // <dir>/models/sd/tiny-sd15.safetensors
  std::string checkpoint_sha256;
  std::string dataset;            // the prepared dataset folder
};

// nullopt (with the reason in `why`) when the face-api models or demo photos are missing;
// a test failure when a command fails.
std::optional<TrainFixture> MakeTrainFixture(const std::string& agent_binary, const std::string& dir, int photos,
                                             std::string* why);

}  // namespace farm::agent::testing
