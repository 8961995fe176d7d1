// What docs/operations.md tells an operator to run, read from the document itself: the key
// commands, the allow-list command, the cluster config (which must be
// farm_configs/cluster.example.yaml verbatim) and the flags of the farmd and farm-agent
// systemd units. The netns harness runs exactly these, so a document that drifts from the
// programs fails a test instead of misleading a reader.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm_netns {

using Flags = std::vector<std::pair<std::string, std::string>>;  // "--flag", value ("" if none)

struct OpsDoc {
  // The code block with `farmctl keys gen --out /etc/studiofarm/keys/...`, line by line.
  std::vector<std::string> key_commands;
  std::string allow_list_command;         // the `awk ... > .../agents.allow` command
  std::string cluster_config;             // the config block, as the file holds it
  Flags farmd_flags;                      // ExecStart of farmd.service, after the program
  Flags agent_flags;                      // ExecStart of farm-agent@.service
};

// Reads `doc_path` (docs/operations.md) and checks that its config block is the file
// `config_path` (farm_configs/cluster.example.yaml) line for line. The error names what is
// missing or which line differs.
farm::StatusOr<OpsDoc> ReadOpsDoc(const std::string& doc_path, const std::string& config_path);

// `text` with every occurrence of each `from` replaced by its `to`, in order.
std::string ReplaceAll(std::string text, const std::vector<std::pair<std::string, std::string>>& map);

// `flags` as argv, with the values of `overrides` replacing theirs. InvalidArgument when an
// override names a flag the document does not use (renamed in the document, or in the harness).
farm::StatusOr<std::vector<std::string>> FlagsWith(const Flags& flags, const Flags& overrides);

}  // namespace farm_netns
