// The effects plots of farmctl report: score vs CFG per sampler, per-pose success, score vs
// LoRA steps, score distribution per tone. Means carry bootstrap intervals and rates Wilson
// intervals (farm_analysis), seeded so the same sweep gives the same page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report_data.h"

namespace farmctl::report {

struct EffectsPlotOptions {
  double success_threshold = 0.5;
  std::uint64_t seed = 20240601;
};

// The four plots, each an <svg> (a "no data" one where the sweep has nothing to show).
std::vector<std::string> EffectsPlots(const std::vector<RenderRow>& rows, const EffectsPlotOptions& options);

// Distinct values in display order: numerically when every value is a number, else as text
// with "(none)" last.
std::vector<std::string> OrderLevels(std::vector<std::string> values);

}  // namespace farmctl::report
