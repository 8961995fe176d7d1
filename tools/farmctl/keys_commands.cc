#include "keys_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "api_token.h"
#include "farm/schemas/sha256.h"
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

// farmd keeps only the digest: the token is printed once, with the line to add to its
// --tokens-file (docs/dashboard.md).
int RunTokenNew(const GlobalOptions& options, const std::string& kind) {
  farm::StatusOr<std::string> made = NewApiToken();
  if (!made.ok()) return ReportError(options, made.status());
  const std::string& token = *made;
  const std::string line = kind + " sha256:" + farm::Sha256Hex(token);
  if (options.json) {
    nlohmann::ordered_json out = {
        {"ok", true}, {"kind", kind}, {"token", token}, {"tokens_file_line", line}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "token (shown once; farmd keeps only its hash): " << token << "\n"
              << "add to farmd's --tokens-file: " << line << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddTokenCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* token = app.add_subcommand("token", "Make bearer tokens for farmd's HTTP API");
  token->require_subcommand(1);
  auto kind = std::make_shared<std::string>("admin");
  CLI::App* make = token->add_subcommand("new", "Print a new token and its --tokens-file line");
  make->add_option("--kind", *kind, "admin (every route) or read (GET routes only)")
      ->check(CLI::IsMember({"admin", "read"}))
      ->capture_default_str();
  make->callback([&options, &exit_code, kind] { exit_code = RunTokenNew(options, *kind); });
}

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
