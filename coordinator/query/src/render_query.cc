// BuildRenderQuery(): a RenderQuery -> one SELECT over render_results with bound values.
#include "farm/query/render_query.h"

#include <algorithm>
#include <string>

#include "compile.h"
#include "farm/query/expression.h"

namespace farm::query {
namespace {

// The columns to select: the asked ones (or the defaults), with id, param_hash and score
// in front when missing; each once.
StatusOr<std::vector<const ColumnInfo*>> SelectColumns(const std::vector<std::string>& asked) {
  const std::vector<std::string> names = asked.empty() ? DefaultRenderColumns() : asked;
  std::vector<const ColumnInfo*> resolved;
  for (const std::string& name : names) {
    const ColumnInfo* column = FindRenderColumn(name);
    if (column == nullptr) {
      return InvalidArgument("columns: " + UnknownColumnMessage(name));
    }
    if (std::find(resolved.begin(), resolved.end(), column) == resolved.end()) {
      resolved.push_back(column);
    }
  }
  std::vector<const ColumnInfo*> always;
  for (const char* name : {"id", "param_hash", "score"}) {
    const ColumnInfo* column = FindRenderColumn(name);
    if (std::find(resolved.begin(), resolved.end(), column) == resolved.end()) {
      always.push_back(column);
    }
  }
  resolved.insert(resolved.begin(), always.begin(), always.end());
  return resolved;
}

// True when every match must have one of a few given values of a (nearly) unique,
// indexed renders column: then that index finds the matches faster than any walk.
bool PinsRenders(const Expr& expr) {
  if (expr.kind == Expr::Kind::kAnd) {
    return std::any_of(expr.children.begin(), expr.children.end(), PinsRenders);
  }
  if (!((expr.kind == Expr::Kind::kCompare && expr.op == "=") ||
        (expr.kind == Expr::Kind::kIn && !expr.negated))) {
    return false;
  }
  const ColumnInfo* column = FindRenderColumn(expr.column);
  if (column == nullptr) return false;
  return column->name == "id" || column->name == "param_hash" || column->name == "seed" ||
         column->name == "result";
}

// The column of the first order key, or nullptr.
const ColumnInfo* FirstOrderColumn(std::string_view order_by) {
  const LexResult lexed = Tokenize(order_by);
  if (lexed.tokens.empty() || lexed.tokens[0].kind != TokenKind::kIdentifier) return nullptr;
  return FindRenderColumn(lexed.tokens[0].text);
}

bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

}  // namespace

StatusOr<BuiltQuery> BuildRenderQuery(const RenderQuery& query) {
  if (query.limit < 0) {
    return InvalidArgument("limit must be 0 (no limit) or more, got " +
                           std::to_string(query.limit));
  }
  if (query.offset < 0) {
    return InvalidArgument("offset must be 0 or more, got " + std::to_string(query.offset));
  }

  BuiltQuery built;
  FARM_ASSIGN_OR_RETURN(std::vector<const ColumnInfo*> columns, SelectColumns(query.columns));
  SqlFragment select;
  select.sql = "SELECT ";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i != 0) select.sql += ", ";
    select.AddColumn(*columns[i]);
    built.columns.push_back(columns[i]->name);
    built.types.push_back(columns[i]->type);
  }

  // WHERE: the sweeps (served by render_results (sweep_id, score DESC)), then the filter.
  SqlFragment where;
  if (!query.sweep_ids.empty()) {
    where.sql = "rr.sweep_id IN (";
    for (std::size_t i = 0; i < query.sweep_ids.size(); ++i) {
      where.sql += i == 0 ? "?" : ", ?";
      where.binds.emplace_back(std::in_place_type<std::int64_t>, query.sweep_ids[i]);
    }
    where.sql += ")";
  }
  bool pins_renders = false;
  if (!IsBlank(query.where)) {
    ParseResult parsed = ParseExpression(query.where);
    if (!parsed.ok) return ToStatus(query.where, parsed.error);
    SqlFragment filter;
    QueryError error;
    if (!CompileFilter(parsed.expr, filter, error)) return ToStatus(query.where, error);
    pins_renders = PinsRenders(parsed.expr);
    if (!where.sql.empty()) where.sql += " AND ";
    where.Append(filter);
  }

  // ORDER BY: the asked keys, then rr.id so that equal keys come in a stable order. An
  // index's entries end with the rowid, so "rr.score DESC, rr.id" still walks the
  // render_results (score DESC) index.
  SqlFragment order;
  if (IsBlank(query.order_by)) {
    order.sql = "r.id, rr.id";
  } else {
    QueryError error;
    if (!CompileOrderBy(query.order_by, order, error)) {
      error.message = "order by: " + error.message;
      return ToStatus(query.order_by, error);
    }
    order.sql += ", rr.id";
  }

  // Best-first with a limit: walk render_results by score (score DESC, or sweep_id and
  // score DESC) and stop after `limit` matches. SQLite's planner does not weigh the
  // LIMIT: for a filter on renders columns it picks their index and sorts every match
  // (about 300 ms for a quarter of 1,000,000 rows, with or without ANALYZE), so CROSS
  // JOIN fixes the loop order; a filter that pins a few renders keeps the planner's
  // choice (walking the score index for one seed would read every row).
  const ColumnInfo* first_order = FirstOrderColumn(query.order_by);
  const bool walk_score = query.limit > 0 && first_order != nullptr &&
                          first_order->name == "score" && !pins_renders;
  // The default order (render id) with a limit, across sweeps: walk renders in id order
  // (NOT INDEXED: else the planner starts from the filter's index and sorts every match)
  // and stop after `limit` matches. Within sweeps the sweep index is the better start.
  const bool walk_ids = query.limit > 0 && IsBlank(query.order_by) && !pins_renders &&
                        query.sweep_ids.empty();
  SqlFragment from;
  from.sql = walk_score ? " FROM render_results rr CROSS JOIN renders r ON r.id = rr.render_id"
             : walk_ids ? " FROM renders r NOT INDEXED CROSS JOIN render_results rr ON rr.render_id = r.id"
                        : " FROM render_results rr JOIN renders r ON r.id = rr.render_id";
  if (select.needs_sweeps || where.needs_sweeps || order.needs_sweeps) {
    from.sql += " JOIN sweeps s ON s.id = rr.sweep_id";
  }
  if (select.needs_jobs || where.needs_jobs || order.needs_jobs) {
    from.sql += " LEFT JOIN jobs j ON j.id = rr.job_id";
  }

  SqlFragment all = select;
  all.Append(from);
  if (!where.sql.empty()) {
    all.sql += " WHERE ";
    all.Append(where);
  }
  all.sql += " ORDER BY ";
  all.Append(order);
  if (query.limit > 0 || query.offset > 0) {
    all.sql += " LIMIT ?";
    all.binds.emplace_back(std::in_place_type<std::int64_t>, query.limit > 0 ? query.limit : -1);
    if (query.offset > 0) {
      all.sql += " OFFSET ?";
      all.binds.emplace_back(std::in_place_type<std::int64_t>, query.offset);
    }
  }
  built.sql = std::move(all.sql);
  built.binds = std::move(all.binds);
  return built;
}

}  // namespace farm::query
