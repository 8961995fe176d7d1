// farmd's view of a farm config file (farm_configs/local.yaml and cluster variants).
// Parsed once in main(); the libraries only see option structs.
#pragma once

#include <cstdint>
#include <string>

#include "farm/schemas/status.h"

namespace farm::farmd {

struct FarmConfig {
  std::string database = ".studiofarm/farm.db";
  std::string artifacts = ".studiofarm/artifacts";
  std::string agent_endpoint = "tcp://127.0.0.1:0";
  std::string http_listen = "127.0.0.1:0";
  std::string http_tls = "auto";  // "on", "off", or "auto": HTTPS unless bound to loopback
  std::string tls_cert;           // empty: <database folder>/tls/farmd.crt
  std::string tls_key;            // empty: <database folder>/tls/farmd.key
  std::int64_t heartbeat_interval_ms = 1000;
  int heartbeat_liveness = 3;
  std::int64_t lease_timeout_ms = 30000;
  int max_failures_per_job = 3;
  std::string curve = "generate";  // "generate", "on" or "off"
  std::string models_dir;          // '~' expanded by the caller
};

// Unknown keys are ignored (they belong to farmctl or the agents); a wrong type is
// InvalidArgument naming the key.
StatusOr<FarmConfig> ParseFarmConfig(const std::string& yaml_text, const std::string& file_name);

}  // namespace farm::farmd
