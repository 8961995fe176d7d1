// A scratch farm folder for the end-to-end farmctl tests: models/ holding the face-api
// models and demo photos (linked, where a models folder keeps them) and the tiny model
// (farm-agent make-tiny-model into models/tiny); the database at state/farm.db.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace farmctl_test {

struct TinyFarmDir {
  std::string dir, models, db;
  nlohmann::json tiny_files;  // make-tiny-model's --json answer (checkpoint, lora, ...)
};

// nullopt with the reason in `skip` when the face-api models or the demo photo `demo_photo`
// are missing; nullopt after a test failure when a command fails.
std::optional<TinyFarmDir> MakeTinyFarmDir(const std::string& agent, const std::string& prefix,
                                           const std::string& demo_photo, std::string* skip);

}  // namespace farmctl_test
