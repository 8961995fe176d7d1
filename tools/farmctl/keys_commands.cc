#include "keys_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "farm/transport/curve_keys.h"

namespace farmctl {
namespace {

using farm::transport::CurveKeyPair;

struct GenArgs {
  std::string prefix;
  bool force = false;
};

int RunGen(const GlobalOptions& options, const GenArgs& args) {
  const std::string key_path = args.prefix + ".key";
  const std::string pub_path = args.prefix + ".pub";
  // Check both first, so a refusal never leaves a half-written pair behind.
  if (!args.force) {
    for (const std::string& path : {key_path, pub_path}) {
      std::error_code error;
      if (std::filesystem::exists(path, error)) {
        return ReportError(options,
                           farm::AlreadyExists(path + ": exists (pass --force to overwrite)"));
      }
    }
  }
  auto keys = farm::transport::GenerateCurveKeyPair();
  if (!keys.ok()) return ReportError(options, keys.status());
  farm::Status written = farm::transport::WriteCurveKeyFile(key_path, *keys, args.force);
  if (written.ok()) {
    written = farm::transport::WriteCurveKeyFile(pub_path, CurveKeyPair{keys->public_key, ""},
                                                 args.force);
  }
  if (!written.ok()) return ReportError(options, written);

  if (options.json) {
    nlohmann::ordered_json out = {{"ok", true},
                                  {"public_key", keys->public_key},
                                  {"key_file", key_path},
                                  {"public_file", pub_path}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "wrote " << key_path << " (secret, mode 0600) and " << pub_path << "\n"
              << "public key: " << keys->public_key << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddKeysCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* keys = app.add_subcommand("keys", "Make CURVE keys for farmd and farm-agents");
  keys->require_subcommand(1);
  // Owned by the callback, which lives as long as the app.
  auto args = std::make_shared<GenArgs>();
  CLI::App* gen = keys->add_subcommand(
      "gen", "Write PREFIX.key (public+secret, mode 0600) and PREFIX.pub (public)");
  gen->add_option("--out", args->prefix, "Path prefix of the two key files")->required();
  gen->add_flag("--force", args->force, "Overwrite existing key files");
  gen->callback([&options, &exit_code, args] { exit_code = RunGen(options, *args); });
}

}  // namespace farmctl
