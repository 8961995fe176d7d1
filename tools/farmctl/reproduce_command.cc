#include "reproduce_command.h"

#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent_call.h"
#include "farm/store/store.h"
#include "program_path.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct ReproduceArgs {
  std::int64_t render_id = 0;
  std::string agent_path;
  std::string artifacts;  // artifact root; empty: <db dir>/artifacts
  std::string output;     // keep the re-rendered PNG here; empty: a temporary file
  std::string device;     // passed to render-params when given
};

// A private temporary folder, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::error_code ec;
    std::string pattern = (fs::temp_directory_path(ec) / "farmctl-reproduce-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

farm::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return farm::Unavailable("cannot write " + path.string());
  return farm::Status::Ok();
}

// Runs farm-agent with --json and returns the pixel_sha256 of its answer.
farm::StatusOr<std::string> AgentPixelHash(const std::string& agent,
                                           const std::vector<std::string>& args,
                                           const std::string& what) {
  farm::StatusOr<AgentJson> run = RunAgentJson(agent, args);
  if (!run.ok()) return run.status().WithContext(what);
  if (run->exit_code != 0 || !run->value.value("ok", false)) {
    std::string error = run->value.value("error", "");
    if (error.empty()) error = "exit code " + std::to_string(run->exit_code);
    return farm::Internal(what + ": " + error + "\n" + LastLines(run->err, 8));
  }
  const std::string hash = run->value.value("pixel_sha256", "");
  if (hash.empty()) return farm::Internal(what + ": farm-agent reported no pixel_sha256");
  return hash;
}

int Run(const GlobalOptions& options, const ReproduceArgs& args) {
  const std::string db_path = EffectiveDbPath(options);
  if (db_path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = Store::Open(db_path, OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto render = (*store)->GetRender(args.render_id);
  if (!render.ok()) return ReportError(options, render.status());
  const std::string context = "render " + std::to_string(args.render_id);
  if (!render->artifact_id) {
    return ReportError(options, farm::FailedPrecondition(
                                    context + " has no stored image (not rendered yet): nothing to compare"));
  }
  auto artifact = (*store)->GetArtifact(*render->artifact_id);
  if (!artifact.ok()) return ReportError(options, artifact.status().WithContext(context));
  const fs::path root = args.artifacts.empty() ? fs::path(db_path).parent_path() / "artifacts"
                                               : fs::path(args.artifacts);
  const fs::path stored = root / artifact->path;
  std::error_code ec;
  if (!fs::is_regular_file(stored, ec)) {
    return ReportError(options, farm::NotFound(context + ": stored image " + stored.string() +
                                               " does not exist (pass --artifacts DIR, the farm's "
                                               "artifact root)"));
  }

  TempDir temp;
  if (temp.path().empty()) return ReportError(options, farm::Unavailable("cannot create a temporary folder"));
  const fs::path params_file = fs::path(temp.path()) / "params.json";
  if (farm::Status written = WriteText(params_file, render->params_json); !written.ok()) {
    return ReportError(options, written);
  }
  const std::string output =
      args.output.empty() ? (fs::path(temp.path()) / "reproduced.png").string() : args.output;
  const std::string agent = FindAgentProgram(args.agent_path);
  std::vector<std::string> render_args = {"render-params", params_file.string(), "-o", output,
                                          "--json",        "--models-dir",       options.models_dir};
  if (!args.device.empty()) {
    render_args.push_back("--device");
    render_args.push_back(args.device);
  }
  if (!options.json) std::cerr << "re-rendering " << context << " (" << render->param_hash << ")...\n";
  auto reproduced = AgentPixelHash(agent, render_args, context + ": farm-agent render-params");
  if (!reproduced.ok()) return ReportError(options, reproduced.status());
  auto original = AgentPixelHash(agent, {"pixel-hash", stored.string(), "--json"},
                                 context + ": farm-agent pixel-hash " + stored.string());
  if (!original.ok()) return ReportError(options, original.status());

  const bool match = *reproduced == *original;
  if (options.json) {
    Json out = {{"ok", true},
                {"render_id", args.render_id},
                {"param_hash", render->param_hash},
                {"match", match},
                {"stored", {{"path", stored.string()}, {"pixel_sha256", *original}}},
                {"reproduced", {{"pixel_sha256", *reproduced}}}};
    if (!args.output.empty()) out["reproduced"]["path"] = args.output;
    std::cout << out.dump(2) << "\n";
  } else if (match) {
    std::cout << context << " reproduces: pixel sha256 " << *original << "\n";
  } else {
    std::cout << context << " does NOT reproduce: the pixels differ\n"
              << "  stored      " << *original << "  " << stored.string() << "\n"
              << "  reproduced  " << *reproduced
              << (args.output.empty() ? std::string() : "  " + args.output) << "\n";
  }
  return match ? kExitOk : kExitFailure;
}

}  // namespace

void AddReproduceCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<ReproduceArgs>();
  CLI::App* reproduce = app.add_subcommand(
      "reproduce",
      "Re-render a stored render from its recorded params with farm-agent and check that the "
      "pixels match the stored image (exit 0 match, 1 mismatch or no image)");
  reproduce->add_option("RENDER_ID", args->render_id, "Render id")->required()->check(CLI::PositiveNumber);
  reproduce->add_option("--agent", args->agent_path, "farm-agent executable (default: the build's)");
  reproduce->add_option("--artifacts", args->artifacts,
                        "Artifact root of the farm (default: 'artifacts' next to the database)");
  reproduce->add_option("-o,--output", args->output, "Keep the re-rendered PNG at this path");
  reproduce->add_option("--device", args->device, "farm-agent device (cpu, cuda, cuda:N)");
  reproduce->add_option("--db", options.db_path,
                        "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  reproduce->add_option("--models-dir", options.models_dir, "Models folder of the checkpoints");
  reproduce->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
