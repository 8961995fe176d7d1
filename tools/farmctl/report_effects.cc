#include "report_effects.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"
#include "report_svg.h"

namespace farmctl::report {
namespace {

namespace fa = farm::analysis;

PlotPoint MeanPoint(double x, const std::vector<double>& scores, const fa::BootstrapOptions& options) {
  const fa::MeanCi mean = fa::BootstrapMean(scores, options);
  return {x, mean.mean, mean.ci.low, mean.ci.high, static_cast<long>(mean.n)};
}

std::string ScoreVsCfg(const std::vector<RenderRow>& rows, const fa::BootstrapOptions& options) {
  std::map<std::string, std::map<double, std::vector<double>>> by_sampler;
  for (const RenderRow& row : rows) {
    if (row.score) by_sampler[row.sampler][row.cfg].push_back(*row.score);
  }
  std::vector<LineSeries> series;
  for (const auto& [sampler, by_cfg] : by_sampler) {
    LineSeries line{sampler, {}};
    for (const auto& [cfg, scores] : by_cfg) line.points.push_back(MeanPoint(cfg, scores, options));
    series.push_back(std::move(line));
  }
  PlotFrame frame{"score-vs-cfg", "Score vs CFG, per sampler", "CFG scale", "mean cosine (95% CI)",
                  "no scored renders: nothing to plot against CFG"};
  return series.empty() ? NoDataPlot(frame) : LinePlot(frame, series);
}

std::string PoseSuccess(const std::vector<RenderRow>& rows, double threshold) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> counts;  // pose -> (successes, scored)
  for (const RenderRow& row : rows) {
    if (!row.faces_found) continue;  // not scored yet: neither success nor failure
    auto& [successes, n] = counts[row.pose.empty() ? "(none)" : row.pose];
    ++n;
    if (*row.faces_found > 0 && row.score && *row.score >= threshold) ++successes;
  }
  std::vector<std::string> poses;
  for (const auto& entry : counts) poses.push_back(entry.first);
  std::vector<Bar> bars;
  for (const std::string& pose : OrderLevels(poses)) {
    const auto [successes, n] = counts[pose];
    const fa::Proportion p = fa::MakeProportion(successes, n);
    bars.push_back({pose, p.rate, p.ci.low, p.ci.high,
                    std::to_string(successes) + "/" + std::to_string(n)});
  }
  PlotFrame frame{"pose-success", "Success per pose (face found, cosine \u2265 " + FormatNumber(threshold, 3) + ")",
                  "pose", "success rate (95% Wilson CI)", "no scored renders: no pose success to show"};
  return bars.empty() ? NoDataPlot(frame) : BarPlot(frame, bars, true);
}

std::string ScoreVsLoraSteps(const std::vector<RenderRow>& rows, const fa::BootstrapOptions& options) {
  std::map<double, std::vector<double>> by_step;
  for (const RenderRow& row : rows) {
    if (row.score && row.lora_step) by_step[*row.lora_step].push_back(*row.score);
  }
  LineSeries line{"", {}};
  for (const auto& [step, scores] : by_step) line.points.push_back(MeanPoint(step, scores, options));
  PlotFrame frame{"score-vs-lora-steps", "Score vs LoRA training steps", "LoRA steps",
                  "mean cosine (95% CI)",
                  "no scored renders with a trained LoRA checkpoint (train:<hash>@<step>)"};
  return line.points.empty() ? NoDataPlot(frame) : LinePlot(frame, {line});
}

std::string ScorePerTone(const std::vector<RenderRow>& rows) {
  std::map<std::string, std::vector<double>> by_tone;
  for (const RenderRow& row : rows) {
    if (row.score) by_tone[row.tone.empty() ? "(none)" : row.tone].push_back(*row.score);
  }
  std::vector<std::string> tones;
  for (const auto& entry : by_tone) tones.push_back(entry.first);
  std::vector<BoxGroup> groups;
  for (const std::string& tone : OrderLevels(tones)) groups.push_back({tone, by_tone[tone]});
  PlotFrame frame{"score-per-tone", "Score distribution per tone", "tone", "cosine",
                  "no scored renders: no distribution to show"};
  return groups.empty() ? NoDataPlot(frame) : BoxPlot(frame, groups);
}

bool IsNumber(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end != nullptr && *end == '\0';
}

}  // namespace

std::vector<std::string> OrderLevels(std::vector<std::string> values) {
  std::set<std::string> unique(values.begin(), values.end());
  values.assign(unique.begin(), unique.end());
  auto is_none = [](const std::string& v) { return !v.empty() && v.front() == '('; };
  bool numeric = true;
  for (const std::string& v : values) {
    double d;
    if (!is_none(v) && !IsNumber(v, d)) numeric = false;
  }
  std::stable_sort(values.begin(), values.end(), [&](const std::string& a, const std::string& b) {
    if (is_none(a) != is_none(b)) return is_none(b);
    if (numeric && !is_none(a)) {
      double x = 0, y = 0;
      IsNumber(a, x);
      IsNumber(b, y);
      return x < y;
    }
    return a < b;
  });
  return values;
}

std::vector<std::string> EffectsPlots(const std::vector<RenderRow>& rows, const EffectsPlotOptions& options) {
  fa::BootstrapOptions bootstrap;
  bootstrap.seed = options.seed;
  bootstrap.resamples = 1000;
  // Past a few hundred values the normal interval equals the bootstrap one to within its
  // own noise; it keeps a 100k-render report fast.
  bootstrap.normal_above = 500;
  return {ScoreVsCfg(rows, bootstrap), PoseSuccess(rows, options.success_threshold),
          ScoreVsLoraSteps(rows, bootstrap), ScorePerTone(rows)};
}

}  // namespace farmctl::report
