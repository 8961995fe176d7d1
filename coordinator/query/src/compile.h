// Parse trees and order-by text -> SQL fragments over the catalogue's columns, with every
// value bound. Private to farm_query; BuildRenderQuery assembles the fragments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/query/catalog.h"
#include "farm/query/expression.h"
#include "farm/store/records.h"

namespace farm::query {

// SQL text with its binds in the order of its '?'s, and the joins its columns need.
struct SqlFragment {
  std::string sql;
  std::vector<store::SqlValue> binds;
  bool needs_sweeps = false;  // alias s
  bool needs_jobs = false;    // alias j

  // Appends the column's SQL (and the bound path of a params column).
  void AddColumn(const ColumnInfo& column);
  void Append(const SqlFragment& other);  // sql, binds and joins
};

// The catalogue column named `name`, or an error at [offset, offset + length) that says
// what is wrong ("did you mean 'sampler'?", or the list of columns).
const ColumnInfo* ResolveColumn(std::string_view name, std::size_t offset, std::size_t length,
                                QueryError& error);
// "unknown column 'x'; did you mean 'y'?" (or the column list), without a place.
std::string UnknownColumnMessage(std::string_view name);

// The WHERE condition of a parsed filter (without "WHERE"). False with `error` set when
// a column is unknown or a value does not fit its column.
bool CompileFilter(const Expr& expr, SqlFragment& out, QueryError& error);

// "score desc, cfg" -> "rr.score DESC, r.cfg" (without "ORDER BY"). False with `error`
// set (offsets into `text`).
bool CompileOrderBy(std::string_view text, SqlFragment& out, QueryError& error);

}  // namespace farm::query
