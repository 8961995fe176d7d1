// RowsToJson(): Select's rows as JSON objects typed by the catalogue.
#include <cmath>
#include <variant>

#include "farm/query/render_query.h"
#include "time_text.h"

namespace farm::query {
namespace {

nlohmann::ordered_json ToJson(const store::SqlValue& value, ColumnType type) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) {
    if (type == ColumnType::kBool) return *integer != 0;
    if (type == ColumnType::kTime) return FormatIsoTimeMs(*integer);
    return *integer;
  }
  if (const auto* real = std::get_if<double>(&value)) {
    if (!std::isfinite(*real)) return nullptr;  // JSON has no NaN or infinity
    if (type == ColumnType::kBool) return *real != 0;
    if (type == ColumnType::kTime) return FormatIsoTimeMs(std::llround(*real));
    return *real;
  }
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  return nullptr;
}

}  // namespace

nlohmann::ordered_json RowsToJson(const BuiltQuery& query, const store::SelectResult& result) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const std::vector<store::SqlValue>& row : result.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    const std::size_t n = std::min(row.size(), query.columns.size());
    for (std::size_t i = 0; i < n; ++i) {
      const ColumnType type = i < query.types.size() ? query.types[i] : ColumnType::kText;
      object[query.columns[i]] = ToJson(row[i], type);
    }
    rows.push_back(std::move(object));
  }
  return rows;
}

}  // namespace farm::query
