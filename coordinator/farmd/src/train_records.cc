#include "train_records.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <map>
#include <sstream>

namespace farm::farmd {
namespace {

using Json = nlohmann::json;

std::optional<double> NumberOrNull(const Json& line, const char* key) {
  auto it = line.find(key);
  if (it == line.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

std::vector<store::TrainStep> DownsampleSteps(std::vector<store::TrainStep> steps,
                                              std::size_t max_rows) {
  std::sort(steps.begin(), steps.end(),
            [](const store::TrainStep& a, const store::TrainStep& b) { return a.step < b.step; });
  if (steps.size() <= max_rows || max_rows < 2) return steps;
  const std::size_t k = (steps.size() + max_rows - 2) / (max_rows - 1);
  std::vector<store::TrainStep> kept;
  for (std::size_t i = k - 1; i < steps.size(); i += k) kept.push_back(steps[i]);
  if (kept.empty() || kept.back().step != steps.back().step) kept.push_back(steps.back());
  return kept;
}

StatusOr<TrainOutputs> ParseTrainOutputs(std::string_view params_json, std::string_view result_json,
                                         std::string_view metrics_jsonl, std::size_t max_rows) {
  const Json params = Json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded() || !params.is_object() || params.value("kind", "") != "train") {
    return InvalidArgument("train job: params_json is not a train record");
  }
  const Json result = Json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded() || !result.is_object()) {
    return InvalidArgument("train_result artifact: not a JSON object");
  }
  TrainOutputs out;
  out.identity = params.value("identity", "");
  out.run.params_json = std::string(params_json);
  out.run.result_json = std::string(result_json);
  out.run.prepare_param_hash = params.value("prepare_param_hash", "");
  out.run.checkpoint_sha256 = params.value("checkpoint", "");
  out.run.world_size = std::max(1, result.value("world_size", 1));
  out.run.steps = result.value("steps", 0);

  std::map<int, std::optional<double>> scores;
  if (auto v = result.find("validation"); v != result.end() && v->is_object()) {
    if (auto s = v->find("scores"); s != v->end() && s->is_object()) {
      for (const auto& [step, score] : s->items()) {
        scores[std::atoi(step.c_str())] = score.is_number() ? std::optional(score.get<double>()) : std::nullopt;
      }
    }
    if (auto sel = v->find("selection"); sel != v->end() && sel->is_object()) {
      const int best = sel->value("best_step", 0);
      if (best > 0) out.run.best_step = best;
    }
  }
  if (auto c = result.find("checkpoints"); c != result.end() && c->is_array()) {
    for (const Json& checkpoint : *c) {
      if (!checkpoint.value("saved", true)) continue;
      TrainCheckpoint row;
      row.step = checkpoint.value("step", 0);
      row.sha256 = checkpoint.value("sha256", "");
      if (row.step <= 0 || row.sha256.empty()) {
        return InvalidArgument("train_result artifact: a checkpoint without step or sha256: " +
                               checkpoint.dump());
      }
      if (auto s = scores.find(row.step); s != scores.end()) row.validation_score = s->second;
      out.checkpoints.push_back(std::move(row));
    }
  }

  std::vector<store::TrainStep> steps;
  std::istringstream lines{std::string(metrics_jsonl)};
  int number = 0;
  for (std::string text; std::getline(lines, text);) {
    ++number;
    if (text.empty()) continue;
    const Json line = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded() || !line.is_object() || !line.contains("step") ||
        !line["step"].is_number_integer() || line["step"].get<int>() <= 0) {
      return InvalidArgument("train_metrics artifact line " + std::to_string(number) +
                             ": expected a JSON object with a positive integer 'step'");
    }
    store::TrainStep step;
    step.step = line["step"].get<int>();
    step.loss = NumberOrNull(line, "loss");
    step.lr = NumberOrNull(line, "lr");
    step.lr_text_encoder = NumberOrNull(line, "lr_text_encoder");
    step.grad_norm = NumberOrNull(line, "grad_norm");
    steps.push_back(step);
  }
  // A resumed run may repeat steps: the last line of a step wins.
  std::map<int, store::TrainStep> by_step;
  for (const store::TrainStep& s : steps) by_step[s.step] = s;
  steps.clear();
  for (auto& [n, s] : by_step) steps.push_back(s);
  out.steps = DownsampleSteps(std::move(steps), max_rows);
  return out;
}

}  // namespace farm::farmd
