#include "pose_commands.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>

#include "agent_call.h"
#include "farm/schemas/data_dir.h"
#include "program_path.h"

#ifndef FARMCTL_DEFAULT_POSES_DIR
#define FARMCTL_DEFAULT_POSES_DIR "experiments/poses"
#endif

namespace farmctl {
namespace {
namespace fs = std::filesystem;

constexpr int kMaxNameLength = 64;  // farm/image/pose.h: [a-z0-9_]{1,64}

struct PoseArgs {
  std::string photo;
  std::string name;
  int person = -1;
  bool force = false;
  std::string poses_dir = farm::DataDir("poses", FARMCTL_DEFAULT_POSES_DIR);
  std::string agent_path;
};

int Extract(const GlobalOptions& options, const PoseArgs& args) {
  const std::string name = args.name.empty() ? PoseNameFromPhoto(args.photo) : args.name;
  if (!std::regex_match(name, std::regex("[a-z0-9_]{1,64}"))) {
    return ReportError(options, farm::InvalidArgument(
                                    "pose name '" + name +
                                    "': expected 1-64 characters of a-z, 0-9 and _ (the pose library's names); "
                                    "pass --name"));
  }
  const std::string pose_path = (fs::path(args.poses_dir) / (name + ".json")).string();
  const std::string preview_path = (fs::path(args.poses_dir) / (name + ".png")).string();
  std::vector<std::string> agent_args = {"pose", "extract", "--out", pose_path, "--preview", preview_path};
  if (options.json) agent_args.push_back("--json");
  if (!options.models_dir.empty()) {
    agent_args.push_back("--models");
    agent_args.push_back(options.models_dir);
  }
  if (args.person >= 0) {
    agent_args.push_back("--person");
    agent_args.push_back(std::to_string(args.person));
  }
  if (args.force) agent_args.push_back("--force");
  agent_args.push_back("--");
  agent_args.push_back(args.photo);
  auto run = RunAgent(FindAgentProgram(args.agent_path), agent_args,
                      [](const std::string& line) { std::cout << line << std::endl; });
  if (!run.ok()) return ReportError(options, run.status());
  if (!run->err.empty()) std::cerr << run->err << std::flush;
  if (run->exit_code < 0 || run->exit_code > 3) {
    std::cerr << "farmctl: farm-agent pose extract ended with exit code " << run->exit_code << "\n";
    return kExitFailure;
  }
  if (run->exit_code == 0 && !options.json) {
    std::cout << "pose '" << name << "' is in " << args.poses_dir << " (sweeps name it as pose: " << name << ")\n";
  }
  return run->exit_code;
}

}  // namespace

std::string PoseNameFromPhoto(const std::string& photo) {
  std::string name;
  for (char c : fs::path(photo).stem().string()) {
    const unsigned char u = static_cast<unsigned char>(c);
    name += std::isalnum(u) && u < 128 ? static_cast<char>(std::tolower(u)) : '_';
  }
  if (name.size() > kMaxNameLength) name.resize(kMaxNameLength);
  return name;
}

void AddPoseCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* pose = app.add_subcommand("pose", "Poses for the pose library from photos (runs farm-agent)");
  pose->require_subcommand(1);
  auto args = std::make_shared<PoseArgs>();
  CLI::App* extract = pose->add_subcommand(
      "extract",
      "Find the people in a photo (MoveNet multipose), their hands and faces, and write them as "
      "<poses-dir>/<name>.json with a preview <name>.png");
  extract->add_option("photo", args->photo, "Photo (JPEG, PNG, ...)")->required();
  extract->add_option("--name", args->name, "Pose name (default: the photo's file name, as [a-z0-9_])");
  extract->add_option("--person", args->person, "Only person N (0 = the highest score; default: everyone)")
      ->check(CLI::NonNegativeNumber);
  extract->add_flag("--force", args->force, "Overwrite an existing pose of that name");
  extract->add_option("--poses-dir", args->poses_dir, "Pose library folder")->capture_default_str();
  extract->add_option("--agent", args->agent_path, "farm-agent executable (default: the build's)");
  extract->footer(
      "Models: --models-dir (global; default $STUDIOFARM_MODELS or ~/.cache/studiofarm/models) holding "
      "human-models/ and face-api/model. --json (global): the agent's JSON (docs/poses.md). Exit codes: "
      "0 ok, 1 failure, 2 usage, 3 no person found.");
  extract->callback([&options, &exit_code, args] { exit_code = Extract(options, *args); });
}

}  // namespace farmctl
