#include "farm_defaults.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace farmctl {
namespace {

// `agents.<key>` as an integer in [1, max]; `out` unchanged when absent.
farm::Status ReadCount(const YAML::Node& agents, const std::string& path, const char* key,
                       int max, int* out) {
  const YAML::Node node = agents[key];
  if (!node || node.IsNull()) return farm::Status::Ok();
  const std::string where = path + ":" + std::to_string(node.Mark().line + 1);
  const std::string expected =
      "expected an integer from 1 to " + std::to_string(max);
  if (!node.IsScalar()) {
    return farm::InvalidArgument(where + ": agents." + key + " is not a number; " + expected);
  }
  long long value = 0;
  try {
    value = node.as<long long>();
  } catch (const YAML::Exception&) {
    return farm::InvalidArgument(where + ": agents." + key + " is '" + node.Scalar() + "'; " +
                                 expected);
  }
  if (value < 1 || value > max) {
    return farm::InvalidArgument(where + ": agents." + key + " is " + std::to_string(value) +
                                 "; " + expected);
  }
  *out = static_cast<int>(value);
  return farm::Status::Ok();
}

// `agents.device`: cpu, cuda or cuda:N (what farm-agent --device takes).
farm::Status ReadDevice(const YAML::Node& agents, const std::string& path, std::string* out) {
  const YAML::Node node = agents["device"];
  if (!node || node.IsNull()) return farm::Status::Ok();
  const std::string where = path + ":" + std::to_string(node.Mark().line + 1);
  const std::string value = node.IsScalar() ? node.Scalar() : "";
  bool valid = value == "cpu" || value == "cuda";
  if (!valid && value.rfind("cuda:", 0) == 0 && value.size() > 5 && value.size() <= 8) {
    valid = value.find_first_not_of("0123456789", 5) == std::string::npos;
  }
  if (!valid) {
    return farm::InvalidArgument(where + ": agents.device is '" + value +
                                 "'; expected cpu, cuda or cuda:N");
  }
  *out = value;
  return farm::Status::Ok();
}

}  // namespace

farm::StatusOr<LocalFarmDefaults> ReadLocalFarmDefaults(const std::string& path) {
  LocalFarmDefaults defaults;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return defaults;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root || root.IsNull()) return defaults;
    if (!root.IsMap()) return farm::InvalidArgument(path + ": expected a mapping at the top level");
    const YAML::Node agents = root["agents"];
    if (!agents || agents.IsNull()) return defaults;
    if (!agents.IsMap()) {
      return farm::InvalidArgument(path + ":" + std::to_string(agents.Mark().line + 1) +
                                   ": agents must be a mapping (count:, slots:)");
    }
    FARM_RETURN_IF_ERROR(ReadCount(agents, path, "count", kMaxLocalAgents, &defaults.agents));
    FARM_RETURN_IF_ERROR(ReadCount(agents, path, "slots", kMaxAgentSlots, &defaults.slots));
    FARM_RETURN_IF_ERROR(ReadCount(agents, path, "threads", kMaxAgentThreads, &defaults.threads));
    FARM_RETURN_IF_ERROR(ReadDevice(agents, path, &defaults.device));
  } catch (const YAML::Exception& e) {
    return farm::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return defaults;
}

}  // namespace farmctl
