#include "train_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/store/store.h"

namespace farmctl {
namespace {

using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct ShowRequest {
  std::string job_or_hash;
  int step_rows = 20;  // in the text table; JSON has every stored row
};

bool AllDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Json OrNull(const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); }

std::string Text(const std::optional<double>& value) {
  if (!value) return "-";
  std::ostringstream out;
  out << *value;
  return out.str();
}

std::string Text(const Json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// Checkpoints from the run's train_result: hashes, face-ID score, whether it is the best.
Json CheckpointsJson(const farm::store::TrainRun& run, const Json& result) {
  Json scores = result.contains("validation") ? result["validation"].value("scores", Json::object())
                                              : Json::object();
  Json out = Json::array();
  for (const Json& c : result.value("checkpoints", Json::array())) {
    if (!c.value("saved", true)) continue;
    const int step = c.value("step", 0);
    const std::string key = std::to_string(step);
    out.push_back({{"step", step},
                   {"sha256", c.value("sha256", "")},
                   {"sshs_model_hash", c.value("sshs_model_hash", "")},
                   {"sshs_legacy_hash", c.value("sshs_legacy_hash", "")},
                   {"validation_score", scores.contains(key) ? scores[key] : Json(nullptr)},
                   {"best", run.best_step && *run.best_step == step}});
  }
  return out;
}

farm::StatusOr<farm::store::TrainRun> FindRun(Store& store, const std::string& job_or_hash) {
  // A job id is a short number; a param_hash is 64 hex digits (which may all be digits).
  if (AllDigits(job_or_hash) && job_or_hash.size() < 19) {
    auto run = store.GetTrainRun(std::stoll(job_or_hash));
    if (run.ok() || run.status().code() != farm::StatusCode::kNotFound) return run;
    return farm::NotFound("job " + job_or_hash +
                          " has no training run recorded; expected the id of a succeeded train job "
                          "(or its param_hash)");
  }
  auto run = store.GetTrainRunByHash(job_or_hash);
  if (run.ok() || run.status().code() != farm::StatusCode::kNotFound) return run;
  return farm::NotFound("no training run with param_hash '" + job_or_hash +
                        "'; expected a succeeded train job's id or full param_hash");
}

int Show(const GlobalOptions& options, const ShowRequest& request) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = Store::Open(path, OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto run = FindRun(**store, request.job_or_hash);
  if (!run.ok()) return ReportError(options, run.status());
  auto steps = (*store)->ListTrainSteps(run->job_id);
  if (!steps.ok()) return ReportError(options, steps.status());
  const Json params = Json::parse(run->params_json, nullptr, false);
  const Json result = Json::parse(run->result_json, nullptr, false);
  if (params.is_discarded() || result.is_discarded()) {
    return ReportError(options, farm::DataLoss("training run of job " + std::to_string(run->job_id) +
                                               ": its stored params or result are not JSON"));
  }
  const Json checkpoints = CheckpointsJson(*run, result);
  Json best_score = nullptr;
  for (const Json& c : checkpoints) {
    if (c["best"].get<bool>()) best_score = c["validation_score"];
  }

  if (options.json) {
    Json step_rows = Json::array();
    for (const auto& s : *steps) {
      step_rows.push_back({{"step", s.step},
                           {"loss", OrNull(s.loss)},
                           {"lr", OrNull(s.lr)},
                           {"lr_text_encoder", OrNull(s.lr_text_encoder)},
                           {"grad_norm", OrNull(s.grad_norm)}});
    }
    Json out = {{"ok", true},
                {"job_id", run->job_id},
                {"train_param_hash", run->train_param_hash},
                {"prepare_param_hash", run->prepare_param_hash},
                {"dataset_sha256", run->dataset_sha256.empty() ? Json(nullptr) : Json(run->dataset_sha256)},
                {"checkpoint_sha256", run->checkpoint_sha256},
                {"world_size", run->world_size},
                {"steps_trained", run->steps},
                {"best_step", run->best_step ? Json(*run->best_step) : Json(nullptr)},
                {"best_score", best_score},
                {"params", params},
                {"checkpoints", checkpoints},
                {"steps", step_rows}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }

  std::cout << "train job " << run->job_id << "  " << run->train_param_hash << "\n";
  std::vector<std::vector<std::string>> facts = {
      {"identity", params.value("identity", "")},
      {"dataset", "prepare " + run->prepare_param_hash +
                      (run->dataset_sha256.empty() ? "" : " (artifact " + run->dataset_sha256 + ")")},
      {"base checkpoint", run->checkpoint_sha256},
      {"world size", std::to_string(run->world_size)},
      {"steps trained", std::to_string(run->steps)},
      {"best step", run->best_step ? std::to_string(*run->best_step) + " (face-ID " + Text(best_score) + ")"
                                   : "- (no face-ID validation)"}};
  std::string hyper;
  for (const char* key : {"rank", "alpha", "learning_rate", "batch_size", "resolution", "seed"}) {
    if (params.contains(key)) hyper += (hyper.empty() ? "" : ", ") + std::string(key) + " " + Text(params[key]);
  }
  if (params.contains("extra") && !params["extra"].empty()) hyper += ", extra " + params["extra"].dump();
  facts.push_back({"hyper-parameters", hyper});
  PrintTable(facts);

  std::cout << "\ncheckpoints:\n";
  std::vector<std::vector<std::string>> rows = {{"step", "sha256", "sshs_model_hash", "sshs_legacy_hash", "face-ID", ""}};
  for (const Json& c : checkpoints) {
    rows.push_back({std::to_string(c["step"].get<int>()), c["sha256"].get<std::string>().substr(0, 12),
                    c["sshs_model_hash"].get<std::string>().substr(0, 12), c["sshs_legacy_hash"].get<std::string>(),
                    Text(c["validation_score"]), c["best"].get<bool>() ? "best" : ""});
  }
  PrintTable(rows);

  // Evenly spaced rows of the stored steps, always with the last.
  const std::size_t n = steps->size();
  const std::size_t shown = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, request.step_rows)));
  std::cout << "\nsteps (" << shown << " of " << n << " stored rows):\n";
  rows = {{"step", "loss", "lr", "lr_text_encoder", "grad_norm"}};
  for (std::size_t i = 0; i < shown; ++i) {
    const std::size_t index = shown == 1 ? n - 1 : i * (n - 1) / (shown - 1);
    const auto& s = (*steps)[index];
    rows.push_back({std::to_string(s.step), Text(s.loss), Text(s.lr), Text(s.lr_text_encoder), Text(s.grad_norm)});
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddTrainCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* train = app.add_subcommand("train", "Training runs of the farm");
  train->require_subcommand(1);
  auto request = std::make_shared<ShowRequest>();
  CLI::App* show = train->add_subcommand(
      "show",
      "A train job's run: dataset, base checkpoint, hyper-parameters, world size, checkpoints "
      "(hashes, face-ID scores, best step) and per-step loss, lr and grad norm");
  show->add_option("JOB_OR_HASH", request->job_or_hash, "Train job id or its param_hash")->required();
  show->add_option("--steps", request->step_rows, "Step rows in the table (JSON has all)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  show->add_option("--db", options.db_path,
                   "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  show->callback([&options, &exit_code, request] { exit_code = Show(options, *request); });
}

}  // namespace farmctl
