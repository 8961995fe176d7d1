// A query over render results (one row per sweep and render), built from user text into
// SQL with bound parameters for Store::Select.
//
//   RenderQuery query;
//   query.where = "sampler = 'Euler a' AND cfg >= 6 AND pose IN ('p1', 'p2')";
//   query.order_by = "score desc";
//   query.limit = 100;
//   StatusOr<BuiltQuery> built = BuildRenderQuery(query);
//   if (!built.ok()) { std::cerr << built.status().message() << "\n"; return 2; }
//   StatusOr<store::SelectResult> rows = store.Select(built->sql, built->binds);
//
// Where and order-by text is parsed into a tree (farm/query/expression.h); column names
// come from the catalogue (farm/query/catalog.h) and every literal is a bound value, so
// no input text is ever spliced into the SQL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "farm/query/catalog.h"
#include "farm/schemas/status.h"
#include "farm/store/records.h"

namespace farm::query {

struct RenderQuery {
  std::vector<std::int64_t> sweep_ids;  // empty: every sweep
  std::string where;                    // expression language; empty: no filter
  std::string order_by;                 // e.g. "score desc, cfg"; empty: "id"
  std::int64_t limit = 0;               // 0: no limit
  std::int64_t offset = 0;
  std::vector<std::string> columns;     // empty: DefaultRenderColumns(); id, param_hash and
                                        // score are always included (added in front)
};

struct BuiltQuery {
  std::string sql;  // SELECT ... FROM render_results rr JOIN renders r ... WHERE ... LIMIT ?
  std::vector<store::SqlValue> binds;  // ?1..?N in order
  std::vector<std::string> columns;    // output column names, in order
  std::vector<ColumnType> types;       // index-aligned with columns
};

// InvalidArgument whose message is written for a person: what is wrong on the first line,
// then the expression and a caret line under the problem ("did you mean 'sampler'?" for a
// misspelled column). Callers print it as is and exit 2.
StatusOr<BuiltQuery> BuildRenderQuery(const RenderQuery& query);

// One JSON object per row keyed by column name: numbers as numbers, kBool as true/false,
// kTime as ISO-8601 UTC text ("2026-12-01T10:00:00.000Z"), NULL as null.
nlohmann::ordered_json RowsToJson(const BuiltQuery& query, const store::SelectResult& result);

}  // namespace farm::query
