#include "analysis_json.h"

#include <cmath>
#include <cstdio>

namespace farmctl {

using Json = nlohmann::ordered_json;

Json NumberOrNull(double value) { return std::isnan(value) ? Json(nullptr) : Json(value); }

Json IntervalJson(const farm::analysis::Interval& interval) {
  if (!interval.valid()) return nullptr;
  return Json::array({interval.low, interval.high});
}

Json MeanCiJson(const farm::analysis::MeanCi& mean) {
  return Json{{"n", mean.n},
              {"mean", NumberOrNull(mean.mean)},
              {"sd", NumberOrNull(mean.stddev)},
              {"ci", IntervalJson(mean.ci)},
              {"ci_method", farm::analysis::CiMethodName(mean.method)}};
}

Json ProportionJson(const farm::analysis::Proportion& proportion) {
  return Json{{"successes", proportion.successes},
              {"n", proportion.n},
              {"rate", NumberOrNull(proportion.rate)},
              {"ci", IntervalJson(proportion.ci)}};
}

std::string Fixed(double value, int digits) {
  if (std::isnan(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string IntervalText(const farm::analysis::Interval& interval, int digits) {
  if (!interval.valid()) return "-";
  return "[" + Fixed(interval.low, digits) + ", " + Fixed(interval.high, digits) + "]";
}

std::string ProportionText(const farm::analysis::Proportion& proportion) {
  if (proportion.n == 0) return "- (0 scored)";
  return Fixed(100 * proportion.rate, 1) + "% (" + std::to_string(proportion.successes) + "/" +
         std::to_string(proportion.n) + ") [" + Fixed(100 * proportion.ci.low, 1) + "%, " +
         Fixed(100 * proportion.ci.high, 1) + "%]";
}

}  // namespace farmctl
