// The filter language of render queries: tokens, the parse tree and the parser.
//
//   or      := and (OR and)*
//   and     := not (AND not)*
//   not     := NOT not | primary
//   primary := '(' or ')' | column op value | column [NOT] IN '(' value, ... ')'
//            | column [NOT] LIKE string | column IS [NOT] NULL
//   op      := = | == | != | <> | < | <= | > | >=
//   value   := number | string | TRUE | FALSE
//
// Keywords are case-insensitive; strings are '...' or "..." with a doubled quote standing
// for itself. Columns are checked against the catalogue later (CompileFilter), so the
// tree still holds the names as written. Every token and node keeps its byte offset in
// the text for caret errors (QueryError).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::query {

// Limits that keep a hostile expression cheap and the parser's recursion bounded.
inline constexpr std::size_t kMaxExpressionBytes = 10000;
inline constexpr int kMaxNesting = 64;  // parentheses and NOTs, together

// A problem at a place in the text: `offset` and `length` in bytes.
struct QueryError {
  std::string message;  // "unknown column 'smpler'; did you mean 'sampler'?"
  std::size_t offset = 0;
  std::size_t length = 1;
};

// "<message>\n  <text>\n  <spaces>^^^" (control characters shown as spaces, the caret
// counted in UTF-8 characters, so it lines up in a terminal). Without a caret line when
// the text is too long to echo.
std::string FormatQueryError(std::string_view text, const QueryError& error);
Status ToStatus(std::string_view text, const QueryError& error);

enum class TokenKind {
  kIdentifier,  // sampler, params.stages[0].kind
  kInteger,
  kReal,
  kString,
  kOperator,  // = != <> < <= > >= (== is read as =)
  kLeftParen,
  kRightParen,
  kComma,
  kAnd,
  kOr,
  kNot,
  kIn,
  kLike,
  kIs,
  kNull,
  kTrue,
  kFalse,
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string text;          // identifier/operator as written; a string's value unquoted
  std::int64_t integer = 0;  // kInteger
  double real = 0;           // kReal
};

// The whole text as tokens, ending with one kEnd. On a lexical error, `ok` is false,
// `error` says what is wrong and the tokens before it are kept, ending with a kEnd at the
// error's offset (so a caller can report a problem further left first).
struct LexResult {
  std::vector<Token> tokens;
  bool ok = true;
  QueryError error;
};
LexResult Tokenize(std::string_view text);

struct Literal {
  enum class Kind { kInteger, kReal, kString, kBool };
  Kind kind = Kind::kInteger;
  std::int64_t integer = 0;  // also kBool (1/0)
  double real = 0;
  std::string text;          // kString's value; a number as written
  std::size_t offset = 0;
  std::size_t length = 0;
};

struct Expr {
  enum class Kind { kAnd, kOr, kNot, kCompare, kIn, kLike, kIsNull };
  Kind kind = Kind::kCompare;
  std::vector<Expr> children;  // kAnd/kOr: two or more; kNot: one
  // Leaves:
  std::string column;          // as written
  std::size_t column_offset = 0;
  std::size_t column_length = 0;
  std::string op;              // kCompare: "=", "<>", "<", "<=", ">", ">="
  std::size_t op_offset = 0;
  std::size_t op_length = 0;
  std::vector<Literal> values; // kCompare and kLike: one; kIn: one or more
  bool negated = false;        // NOT IN, NOT LIKE, IS NOT NULL
};

struct ParseResult {
  Expr expr;
  bool ok = true;
  QueryError error;
};
// Also checks kMaxExpressionBytes and kMaxNesting. An empty (or blank) text is an error;
// callers treat "no filter" before calling.
ParseResult ParseExpression(std::string_view text);

}  // namespace farm::query
