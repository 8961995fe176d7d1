// farmctl: the StudioFarm command line. Verbs live in *_commands.cc; this file parses
// the global options (the only place that reads environment variables) and dispatches.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli_common.h"
#include "farm/schemas/data_dir.h"
#include "compare_command.h"
#include "db_commands.h"
#include "effects_command.h"
#include "export_command.h"
#include "faces_commands.h"
#include "pose_commands.h"
#include "identity_commands.h"
#include "keys_commands.h"
#include "models_command.h"
#include "nightly_command.h"
#include "rank_command.h"
#include "remote_commands.h"
#include "renders_command.h"
#include "report_command.h"
#include "reproduce_command.h"
#include "run_command.h"
#include "score_command.h"
#include "show_command.h"
#include "sweep_commands.h"
#include "tls_commands.h"
#include "top_command.h"
#include "train_command.h"
#include "watch_command.h"

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

std::string DefaultModelsDir() {
  return EnvOr("STUDIOFARM_MODELS", EnvOr("HOME", ".") + "/.cache/studiofarm/models");
}

}  // namespace

int main(int argc, char** argv) {
  farmctl::GlobalOptions options;
  options.default_db_path = EnvOr("STUDIOFARM_DB", ".studiofarm/farm.db");
  options.models_dir = DefaultModelsDir();
  std::string config_dir =
      EnvOr("STUDIOFARM_CONFIG_DIR", farm::DataDir("farm_configs", FARM_DEFAULT_CONFIG_DIR));

  CLI::App app{
      "farmctl - StudioFarm command line: validate and expand sweep specs, manage the farm "
      "database and CURVE keys, run sweeps, detect and compare faces, manage identities and "
      "score images against them.\n\nExit codes: 0 ok, 1 the command failed, 2 the command line is wrong."};
  app.set_version_flag("--version", std::string("farmctl ") + FARM_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the verb: `farmctl sweep expand F --json`
  app.add_flag("--json", options.json, "Machine-readable JSON on stdout");
  app.add_option("--db", options.db_path,
                 "Farm database (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  app.add_option("--models-dir", options.models_dir,
                 "Models root: where 'models:/' paths in specs point and where the face "
                 "verbs find face-api/model (default: $STUDIOFARM_MODELS or "
                 "~/.cache/studiofarm/models)");
  app.add_option("--config-dir", config_dir,
                 "Farm configuration folder with tones.yaml and pipelines.yaml")
      ->capture_default_str();

  int exit_code = farmctl::kExitOk;
  farmctl::AddSweepCommands(app, options, config_dir, exit_code);
  farmctl::AddDbCommands(app, options, exit_code);
  farmctl::AddKeysCommands(app, options, exit_code);
  farmctl::AddTokenCommands(app, options, exit_code);
  farmctl::AddRunCommands(app, options, config_dir, exit_code);
  const farmctl::ApiEnvironment environment = farmctl::ReadApiEnvironment();
  farmctl::AddRemoteCommands(app, options, config_dir, environment, exit_code);
  farmctl::AddWatchCommand(app, options, environment, exit_code);
  farmctl::AddTlsCommands(app, options, environment, exit_code);
  farmctl::AddFacesCommands(app, options, exit_code);
  farmctl::AddPoseCommands(app, options, exit_code);
  farmctl::AddIdentityCommands(app, options, exit_code);
  farmctl::AddScoreCommand(app, options, exit_code);
  farmctl::AddReproduceCommand(app, options, exit_code);
  farmctl::AddRankCommand(app, options, exit_code);
  farmctl::AddReportCommand(app, options, exit_code);
  farmctl::AddTrainCommands(app, options, exit_code);
  farmctl::AddRendersCommand(app, options, exit_code);
  farmctl::AddTopCommand(app, options, exit_code);
  farmctl::AddShowCommand(app, options, exit_code);
  farmctl::AddExportCommand(app, options, exit_code);
  farmctl::AddNightlyCommand(app, options, config_dir, exit_code);
  farmctl::AddCompareCommand(app, options, exit_code);
  farmctl::AddEffectsCommand(app, options, exit_code);
  farmctl::AddModelsCommands(app, options, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // --help and --version are successes; everything else is a usage error.
    return code == 0 ? farmctl::kExitOk : farmctl::kExitUsage;
  }
  return exit_code;
}
