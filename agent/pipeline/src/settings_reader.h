// Typed access to one stage's settings with defaults: every key read is recorded (as
// applied) and Finish() rejects keys that were never asked for.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm::pipeline {

class SettingsReader {
 public:
  SettingsReader(std::string stage, const farm::Settings& settings);

  StatusOr<double> Number(const std::string& key, double fallback, double min, double max);
  StatusOr<int> Int(const std::string& key, int fallback, int min, int max);
  StatusOr<std::string> String(const std::string& key, const std::string& fallback,
                               const std::vector<std::string>& choices = {});
  // True when the settings hold `key` (it counts as known).
  bool Has(const std::string& key);

  // InvalidArgument "<stage>: unknown setting '<key>'" for a key nobody read.
  Status Finish() const;
  const farm::Settings& applied() const { return applied_; }
  const std::string& stage() const { return stage_; }

 private:
  std::string stage_;
  const farm::Settings& settings_;
  std::set<std::string> known_;
  farm::Settings applied_;
};

}  // namespace farm::pipeline
