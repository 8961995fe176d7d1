// Filter trees and order-by lists -> SQL over whitelisted columns with bound values.
#include "compile.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "text_util.h"
#include "time_text.h"

namespace farm::query {
namespace {

// Names people bring from other tools (MLflow, A1111, the database) -> our column.
const std::map<std::string, std::string>& Synonyms() {
  static const std::map<std::string, std::string> synonyms = {
      {"cfg_scale", "cfg"},        {"guidance", "cfg"},         {"sampler_name", "sampler"},
      {"schedule", "scheduler"},   {"similarity", "score"},     {"cosine", "score"},
      {"state", "status"},         {"sweep_id", "sweep"},       {"render_id", "id"},
      {"render", "id"},            {"lora_ref", "lora"},        {"lora_name", "lora"},
      {"agent_id", "agent"},       {"faces_found", "faces"},    {"has_face", "face_found"},
      {"created_at", "created"},   {"rendered_at", "rendered"}, {"model", "checkpoint"},
      {"checkpoint_sha256", "checkpoint"}, {"denoising_strength", "denoise"},
      {"negative", "negative_prompt"},     {"duration", "seconds"}, {"time", "seconds"},
      {"params_json", "params.<path>"},
  };
  return synonyms;
}

bool IsComposite(const Expr& expr) {
  return expr.kind == Expr::Kind::kAnd || expr.kind == Expr::Kind::kOr;
}

QueryError ErrorAt(std::string message, std::size_t offset, std::size_t length) {
  return {std::move(message), offset, length == 0 ? 1 : length};
}

// The comparison that holds exactly when `op` does not (both NULL on NULL).
std::string Opposite(const std::string& op) {
  if (op == "=") return "<>";
  if (op == "<>") return "=";
  if (op == "<") return ">=";
  if (op == "<=") return ">";
  if (op == ">") return "<=";
  return "<";  // ">="
}

std::string Quoted(const Literal& value) { return "'" + value.text + "'"; }

// The bound value of `value` compared with `column`, or false with `error` set.
bool BindValue(const ColumnInfo& column, const Literal& value, store::SqlValue& bound,
               QueryError& error) {
  using K = Literal::Kind;
  const std::string& name = column.name;
  if (IsParamsColumn(column)) {
    switch (value.kind) {
      case K::kInteger:
      case K::kBool: bound = value.integer; return true;
      case K::kReal: bound = value.real; return true;
      case K::kString: bound = value.text; return true;
    }
  }
  switch (column.type) {
    case ColumnType::kText:
      if (value.kind == K::kString) {
        bound = value.text;
        return true;
      }
      error = ErrorAt("'" + name + "' is a text column; compare it with a quoted string" +
                          (value.kind == K::kBool ? "" : ", e.g. '" + value.text + "'"),
                      value.offset, value.length);
      return false;
    case ColumnType::kInteger:
    case ColumnType::kReal:
      if (value.kind == K::kInteger) {
        bound = value.integer;
        return true;
      }
      if (value.kind == K::kReal) {
        bound = value.real;
        return true;
      }
      if (value.kind == K::kBool) {
        error = ErrorAt("'" + name + "' is a number column; TRUE and FALSE compare with " +
                            "bool columns such as face_found",
                        value.offset, value.length);
        return false;
      }
      error = ErrorAt("'" + name + "' is a number column but " + Quoted(value) +
                          " is a string; write numbers without quotes",
                      value.offset, value.length);
      return false;
    case ColumnType::kBool:
      if (value.kind == K::kBool ||
          (value.kind == K::kInteger && (value.integer == 0 || value.integer == 1))) {
        bound = value.integer;
        return true;
      }
      error = ErrorAt("'" + name + "' is true or false; compare it with TRUE, FALSE, 1 or 0",
                      value.offset, value.length);
      return false;
    case ColumnType::kTime:
      if (value.kind == K::kInteger) {
        bound = value.integer;  // ms since the epoch
        return true;
      }
      if (value.kind == K::kReal) {
        bound = value.real;
        return true;
      }
      if (value.kind == K::kString) {
        if (std::optional<std::int64_t> ms = ParseIsoTimeMs(value.text)) {
          bound = *ms;
          return true;
        }
      }
      error = ErrorAt("'" + name + "' is a time; give a date like '2026-12-01' or " +
                          "'2026-12-01T10:00:00Z' (UTC), or ms since 1970",
                      value.offset, value.length);
      return false;
  }
  error = ErrorAt("internal: unknown column type", value.offset, value.length);
  return false;
}

// One condition; `negated` turns it into its opposite (NOT pushed down to the leaf: the
// same in SQL's three-valued logic, NULL stays NULL).
bool CompileLeaf(const Expr& expr, bool negated, SqlFragment& out, QueryError& error) {
  const ColumnInfo* column =
      ResolveColumn(expr.column, expr.column_offset, expr.column_length, error);
  if (column == nullptr) return false;
  const bool params = IsParamsColumn(*column);
  out.AddColumn(*column);
  switch (expr.kind) {
    case Expr::Kind::kIsNull:
      out.sql += expr.negated != negated ? " IS NOT NULL" : " IS NULL";
      return true;
    case Expr::Kind::kCompare: {
      if (column->type == ColumnType::kBool && !params && expr.op != "=" && expr.op != "<>") {
        error = ErrorAt("'" + column->name + "' is true or false; compare it with = or !=",
                        expr.op_offset, expr.op_length);
        return false;
      }
      store::SqlValue bound;
      if (!BindValue(*column, expr.values[0], bound, error)) return false;
      out.sql += " " + (negated ? Opposite(expr.op) : expr.op) + " ?";
      out.binds.push_back(std::move(bound));
      return true;
    }
    case Expr::Kind::kIn: {
      out.sql += expr.negated != negated ? " NOT IN (" : " IN (";
      for (std::size_t i = 0; i < expr.values.size(); ++i) {
        store::SqlValue bound;
        if (!BindValue(*column, expr.values[i], bound, error)) return false;
        out.sql += i == 0 ? "?" : ", ?";
        out.binds.push_back(std::move(bound));
      }
      out.sql += ")";
      return true;
    }
    case Expr::Kind::kLike:
      if (column->type != ColumnType::kText && !params) {
        error = ErrorAt("LIKE matches text, but '" + column->name + "' is a " +
                            ColumnTypeName(column->type) + " column; use =, <, >, IN instead",
                        expr.column_offset, expr.column_length);
        return false;
      }
      out.sql += expr.negated != negated ? " NOT LIKE ?" : " LIKE ?";
      out.binds.push_back(expr.values[0].text);
      return true;
    default: break;
  }
  error = ErrorAt("internal: not a condition", expr.column_offset, expr.column_length);
  return false;
}

// The filter in negation normal form: NOTs pushed to the leaves (De Morgan) and nested
// chains of the same kind merged, so the SQL nests only where AND and OR alternate.
// SQLite's parser has a fixed stack (YYSTACKDEPTH 100): 64 levels of "NOT (" or of
// "(a OR (b AND ..." would overflow it.
struct Node {
  const Expr* leaf = nullptr;  // a condition, or nullptr for a chain
  bool negated = false;        // of the leaf
  bool is_and = false;         // of the chain
  std::vector<Node> children;
  int depth = 0;               // chains below, 0 for a leaf
};

Node Normalize(const Expr& expr, bool negated) {
  if (expr.kind == Expr::Kind::kNot) return Normalize(expr.children[0], !negated);
  Node node;
  if (!IsComposite(expr)) {
    node.leaf = &expr;
    node.negated = negated;
    return node;
  }
  node.is_and = (expr.kind == Expr::Kind::kAnd) != negated;
  for (const Expr& child : expr.children) {
    Node normal = Normalize(child, negated);
    if (normal.leaf == nullptr && normal.is_and == node.is_and) {
      for (Node& grandchild : normal.children) node.children.push_back(std::move(grandchild));
    } else {
      node.children.push_back(std::move(normal));
    }
  }
  for (const Node& child : node.children) node.depth = std::max(node.depth, child.depth + 1);
  return node;
}

bool CompileNormal(const Node& node, SqlFragment& out, QueryError& error);

// children[begin, end) joined by AND/OR. Long chains are split in halves, so SQLite's
// expression tree stays shallow (it refuses trees deeper than 1000).
bool CompileChain(const Node& node, const std::vector<const Node*>& children, std::size_t begin,
                  std::size_t end, SqlFragment& out, QueryError& error) {
  constexpr std::size_t kFlatChain = 64;
  const char* joiner = node.is_and ? " AND " : " OR ";
  out.sql += "(";
  if (end - begin <= kFlatChain) {
    for (std::size_t i = begin; i < end; ++i) {
      if (i != begin) out.sql += joiner;
      if (!CompileNormal(*children[i], out, error)) return false;
    }
  } else {
    const std::size_t middle = begin + (end - begin) / 2;
    if (!CompileChain(node, children, begin, middle, out, error)) return false;
    out.sql += joiner;
    if (!CompileChain(node, children, middle, end, out, error)) return false;
  }
  out.sql += ")";
  return true;
}

bool CompileNormal(const Node& node, SqlFragment& out, QueryError& error) {
  if (node.leaf != nullptr) return CompileLeaf(*node.leaf, node.negated, out, error);
  std::vector<const Node*> children;
  for (const Node& child : node.children) children.push_back(&child);
  // Deeply nested parts go first: SQLite's parser then reduces them before it holds the
  // rest of the chain on its stack. Shallow filters keep the order they were written in.
  constexpr int kDeep = 8;
  if (node.depth > kDeep) {
    std::stable_sort(children.begin(), children.end(),
                     [](const Node* a, const Node* b) { return a->depth > b->depth; });
  }
  return CompileChain(node, children, 0, children.size(), out, error);
}

// Checks every condition in the order written, so the first error is the leftmost.
bool CheckLeaves(const Expr& expr, QueryError& error) {
  if (expr.kind == Expr::Kind::kNot || IsComposite(expr)) {
    for (const Expr& child : expr.children) {
      if (!CheckLeaves(child, error)) return false;
    }
    return true;
  }
  SqlFragment scratch;
  return CompileLeaf(expr, false, scratch, error);
}

}  // namespace

void SqlFragment::AddColumn(const ColumnInfo& column) {
  sql += column.sql;
  if (IsParamsColumn(column)) binds.push_back(ParamsJsonPath(column.name));
  // The catalogue's SQL names its aliases as "s." and "j." (after a non-name character).
  for (std::size_t i = 0; i + 1 < column.sql.size(); ++i) {
    if (column.sql[i + 1] != '.') continue;
    const bool starts = i == 0 || !(std::isalnum(static_cast<unsigned char>(column.sql[i - 1])) ||
                                    column.sql[i - 1] == '_');
    if (!starts) continue;
    if (column.sql[i] == 's') needs_sweeps = true;
    if (column.sql[i] == 'j') needs_jobs = true;
  }
}

void SqlFragment::Append(const SqlFragment& other) {
  sql += other.sql;
  binds.insert(binds.end(), other.binds.begin(), other.binds.end());
  needs_sweeps = needs_sweeps || other.needs_sweeps;
  needs_jobs = needs_jobs || other.needs_jobs;
}

std::string UnknownColumnMessage(std::string_view name) {
  const std::string lower = ToLower(name);
  if (lower.rfind("params.", 0) == 0) {
    return "'" + std::string(name) +
           "' is not a params path: segments of letters, digits and '_' joined by '.', " +
           "indices as [N], e.g. params.stages[0].kind (at most 256 characters)";
  }
  std::string message = "unknown column '" + std::string(name) + "'";
  const auto synonym = Synonyms().find(lower);
  if (synonym != Synonyms().end()) return message + "; did you mean '" + synonym->second + "'?";
  std::vector<std::string> names;
  for (const ColumnInfo& column : RenderColumns()) names.push_back(column.name);
  const std::string match = ClosestMatch(name, names);
  if (!match.empty()) return message + "; did you mean '" + match + "'?";
  message += "; columns are:";
  for (std::size_t i = 0; i < names.size(); ++i) message += (i == 0 ? " " : ", ") + names[i];
  return message + ", params.<path>";
}

const ColumnInfo* ResolveColumn(std::string_view name, std::size_t offset, std::size_t length,
                                QueryError& error) {
  const ColumnInfo* column = FindRenderColumn(name);
  if (column == nullptr) error = ErrorAt(UnknownColumnMessage(name), offset, length);
  return column;
}

bool CompileFilter(const Expr& expr, SqlFragment& out, QueryError& error) {
  if (!CheckLeaves(expr, error)) return false;
  return CompileNormal(Normalize(expr, false), out, error);
}

namespace {
bool CompileOrderTokens(const std::vector<Token>& tokens, SqlFragment& out, QueryError& error);
}  // namespace

bool CompileOrderBy(std::string_view text, SqlFragment& out, QueryError& error) {
  if (text.size() > kMaxExpressionBytes) {
    error = ErrorAt("the order is too long: " + std::to_string(text.size()) +
                        " bytes; the limit is " + std::to_string(kMaxExpressionBytes),
                    kMaxExpressionBytes, 1);
    return false;
  }
  LexResult lexed = Tokenize(text);
  // The leftmost problem wins: an error before the bad character, else the lexer's.
  const bool ok = CompileOrderTokens(lexed.tokens, out, error);
  if (!lexed.ok && (ok || error.offset >= lexed.error.offset)) {
    error = lexed.error;
    return false;
  }
  return ok;
}

namespace {

bool CompileOrderTokens(const std::vector<Token>& tokens, SqlFragment& out, QueryError& error) {
  std::size_t i = 0;
  while (true) {
    const Token& name = tokens[i];
    if (name.kind != TokenKind::kIdentifier) {
      error = ErrorAt(name.kind == TokenKind::kEnd
                          ? std::string(i == 0 ? "the order is empty" : "the order ends early") +
                                "; expected a column name, e.g. score desc"
                          : "expected a column name, found '" + name.text + "'",
                      name.offset, name.length);
      return false;
    }
    const ColumnInfo* column = ResolveColumn(name.text, name.offset, name.length, error);
    if (column == nullptr) return false;
    if (i != 0) out.sql += ", ";
    out.AddColumn(*column);
    ++i;
    const Token& direction = tokens[i];
    if (direction.kind == TokenKind::kIdentifier) {
      const std::string word = ToLower(direction.text);
      if (word != "asc" && word != "desc") {
        const std::string guess = ClosestMatch(word, {"asc", "desc"});
        error = ErrorAt("expected ASC, DESC or ',' after '" + name.text + "', found '" +
                            direction.text + "'" +
                            (guess.empty() ? "" : " (did you mean " + ToLower(guess) + "?)"),
                        direction.offset, direction.length);
        return false;
      }
      out.sql += word == "desc" ? " DESC" : " ASC";
      ++i;
    }
    const Token& next = tokens[i];
    if (next.kind == TokenKind::kEnd) return true;
    if (next.kind != TokenKind::kComma) {
      error = ErrorAt("expected ASC, DESC or ',' after '" + name.text + "', found '" +
                          next.text + "'",
                      next.offset, next.length);
      return false;
    }
    ++i;
  }
}

}  // namespace
}  // namespace farm::query
