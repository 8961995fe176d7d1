#include "farm_config.h"

#include <yaml-cpp/yaml.h>

namespace farm::farmd {
namespace {

template <typename T>
void Read(const YAML::Node& section, const char* key, T* out) {
  if (section && section[key]) *out = section[key].as<T>();
}

}  // namespace

StatusOr<FarmConfig> ParseFarmConfig(const std::string& yaml_text, const std::string& file_name) {
  FarmConfig config;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (root && !root.IsMap() && !root.IsNull()) {
      return InvalidArgument(file_name + ": expected a mapping at the top level");
    }
    Read(root["store"], "database", &config.database);
    Read(root["store"], "artifacts", &config.artifacts);
    const YAML::Node coordinator = root["coordinator"];
    Read(coordinator, "agent_endpoint", &config.agent_endpoint);
    Read(coordinator, "http_listen", &config.http_listen);
    Read(coordinator, "http_tls", &config.http_tls);
    Read(coordinator, "tls_cert", &config.tls_cert);
    Read(coordinator, "tls_key", &config.tls_key);
    Read(coordinator, "heartbeat_interval_ms", &config.heartbeat_interval_ms);
    Read(coordinator, "heartbeat_liveness", &config.heartbeat_liveness);
    Read(coordinator, "lease_timeout_ms", &config.lease_timeout_ms);
    Read(coordinator, "max_failures_per_job", &config.max_failures_per_job);
    Read(coordinator, "curve", &config.curve);
    Read(root["models"], "dir", &config.models_dir);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(file_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (config.curve != "generate" && config.curve != "on" && config.curve != "off") {
    return InvalidArgument(file_name + ": coordinator.curve must be generate, on or off");
  }
  if (config.http_tls != "auto" && config.http_tls != "on" && config.http_tls != "off") {
    return InvalidArgument(file_name + ": coordinator.http_tls must be auto, on or off");
  }
  return config;
}

}  // namespace farm::farmd
