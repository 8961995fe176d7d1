#include "analysis_rows.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <variant>

#include "farm/analysis/bootstrap.h"
#include "farm/store/store.h"

namespace farmctl {
namespace {

using farm::store::SqlValue;

std::string ValueText(const SqlValue& value) {
  if (std::holds_alternative<std::monostate>(value)) return "NULL";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *d);  // shortest: 7.5, not 7.5000
    return ec == std::errc() ? std::string(buffer, end) : std::to_string(*d);
  }
  return std::get<std::string>(value);
}

double ValueNumber(const SqlValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&value)) return *d;
  return farm::analysis::kNaN;
}

int ColumnIndex(const std::vector<std::string>& columns, const std::string& name) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

const std::vector<std::string>& AnalysisParameters() {
  static const std::vector<std::string> parameters = {
      "sampler", "scheduler", "steps",       "cfg",       "clip_skip", "seed",
      "size",    "pose",      "tone",        "denoise",   "lora",      "lora_weight",
      "lora_step", "checkpoint", "prompt", "negative_prompt", "engine"};
  return parameters;
}

std::vector<std::string> EffectsParameters() {
  std::vector<std::string> out = AnalysisParameters();
  out.erase(std::remove(out.begin(), out.end(), "engine"), out.end());
  return out;
}

farm::StatusOr<farm::query::BuiltQuery> BuildAnalysisQuery(farm::query::RenderQuery query,
                                                           const std::vector<std::string>& parameters,
                                                           const std::string& metric) {
  query.columns = parameters;
  query.columns.push_back("faces");
  query.columns.push_back(metric);
  query.order_by.clear();  // "id": a stable order, so resamples see the rows the same way
  query.limit = 0;
  return farm::query::BuildRenderQuery(query);
}

farm::StatusOr<AnalysisRows> LoadAnalysisRows(farm::store::Store& store, const farm::query::BuiltQuery& built,
                                              const std::vector<std::string>& parameters,
                                              const std::string& metric) {
  auto result = store.Select(built.sql, built.binds);
  if (!result.ok()) return result.status().WithContext("reading renders");
  const std::vector<std::string>& columns = built.columns;
  const int hash_col = ColumnIndex(columns, "param_hash");
  const int faces_col = ColumnIndex(columns, "faces");
  const int metric_col = ColumnIndex(columns, metric);
  if (hash_col < 0 || faces_col < 0 || metric_col < 0) {
    return farm::Internal("render query did not return param_hash, faces and " + metric);
  }
  std::vector<int> parameter_cols;
  for (const std::string& name : parameters) {
    const int col = ColumnIndex(columns, name);
    if (col < 0) return farm::Internal("render query did not return column '" + name + "'");
    parameter_cols.push_back(col);
  }

  AnalysisRows out;
  const std::size_t n = result->rows.size();
  std::vector<std::vector<std::string>> values(parameters.size());
  for (auto& column : values) column.reserve(n);
  out.table.scores.reserve(n);
  out.table.face_found.reserve(n);
  out.param_hashes.reserve(n);
  for (const auto& row : result->rows) {
    for (std::size_t p = 0; p < parameter_cols.size(); ++p) values[p].push_back(ValueText(row[parameter_cols[p]]));
    out.param_hashes.push_back(ValueText(row[hash_col]));
    const SqlValue& faces = row[faces_col];
    if (std::holds_alternative<std::monostate>(faces)) {
      out.table.face_found.push_back(farm::analysis::kFaceUnknown);
    } else {
      out.table.face_found.push_back(ValueNumber(faces) > 0 ? farm::analysis::kFace : farm::analysis::kNoFace);
    }
    out.table.scores.push_back(ValueNumber(row[metric_col]));
  }
  for (std::size_t p = 0; p < parameters.size(); ++p) out.table.AddParameter(parameters[p], std::move(values[p]));
  return out;
}

}  // namespace farmctl
