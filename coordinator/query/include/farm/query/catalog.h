// The columns a render query may name: the whitelist behind `farmctl renders`, the
// dashboard's gallery filter and every other query over render_results.
//
// Column SQL is written here and only here; a query's text never reaches the SQL except
// as bound values. Each column's SQL reads the aliases of the query's FROM clause:
// rr (render_results), r (renders), s (sweeps) and j (jobs of rr.job_id).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace farm::query {

enum class ColumnType {
  kInteger,
  kReal,
  kText,
  kBool,  // 1/0 (NULL when unknown); compared with true/false/1/0
  kTime,  // ms since the Unix epoch; compared with ms or an ISO date ("2026-12-01")
};

struct ColumnInfo {
  std::string name;  // as the user writes it, e.g. "cfg"
  std::string sql;   // e.g. "r.cfg"; json_extract(<whole record>, ?) for params.<path>
  ColumnType type;
  std::string help;
};

// Every named column in catalogue order. params.<path> is not listed (see below).
const std::vector<ColumnInfo>& RenderColumns();

// A column by name (case-insensitive), or nullptr. Also resolves "params.<path>" (a path
// into the render's canonical params JSON: segments [A-Za-z_][A-Za-z0-9_]* joined by '.',
// array indices as [N], e.g. params.stages[0].kind): its SQL is
// json_extract over the whole record (farm/store/render_sql.h's kRenderRecordSql) with
// the path bound as "$.<path>" (ParamsJsonPath), its
// type kText, though it compares with any value. The pointer stays valid for the
// program's life (params columns are interned; each distinct path costs one entry).
const ColumnInfo* FindRenderColumn(std::string_view name);

// "$.stages[0].kind" for "params.stages[0].kind"; empty when `name` is not a valid params
// column.
std::string ParamsJsonPath(std::string_view name);
bool IsParamsColumn(const ColumnInfo& column);

// What `farmctl renders` shows without --columns.
std::vector<std::string> DefaultRenderColumns();

const char* ColumnTypeName(ColumnType type);  // "integer", "real", "text", "bool", "time"

}  // namespace farm::query
