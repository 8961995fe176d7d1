// JSON and text forms of farm_analysis results shared by `farmctl compare` and `effects`:
// NaN becomes null, intervals [low, high], numbers printed to a fixed precision in text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"

namespace farmctl {

nlohmann::ordered_json NumberOrNull(double value);
// [low, high], or null when the interval is not valid.
nlohmann::ordered_json IntervalJson(const farm::analysis::Interval& interval);
// {"n", "mean", "sd", "ci", "ci_method"}
nlohmann::ordered_json MeanCiJson(const farm::analysis::MeanCi& mean);
// {"successes", "n", "rate", "ci"}
nlohmann::ordered_json ProportionJson(const farm::analysis::Proportion& proportion);

// "0.612" ("-" for NaN), with `digits` decimals.
std::string Fixed(double value, int digits = 3);
// "[0.581, 0.640]" or "-".
std::string IntervalText(const farm::analysis::Interval& interval, int digits = 3);
// "87.5% (14/16) [64.0%, 96.5%]"
std::string ProportionText(const farm::analysis::Proportion& proportion);

}  // namespace farmctl
