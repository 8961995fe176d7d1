// Bad filters and orders: each names what is wrong, echoes the text and puts a caret
// under the problem. Injection attempts fail to parse or stay literals (see
// query_store_test.cc for literals against a database).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "farm/query/expression.h"
#include "farm/query/render_query.h"

namespace farm::query {
namespace {

struct BadInput {
  std::string text;
  std::string message;  // part of the first line
  std::size_t column;   // caret column, in characters
  std::size_t width;    // carets
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find('\n', begin);
    lines.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return lines;
    begin = end + 1;
  }
}

std::string Printable(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

void ExpectError(const Status& status, const std::string& text, const BadInput& bad) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  const std::vector<std::string> lines = Lines(status.message());
  ASSERT_EQ(lines.size(), 3u) << status.message();
  EXPECT_NE(lines[0].find(bad.message), std::string::npos)
      << "first line: " << lines[0] << "\nexpected to contain: " << bad.message;
  EXPECT_EQ(lines[1], "  " + Printable(text));
  EXPECT_EQ(lines[2], "  " + std::string(bad.column, ' ') + std::string(bad.width, '^'))
      << status.message();
}

Status BuildWhere(const std::string& where) {
  RenderQuery query;
  query.where = where;
  return BuildRenderQuery(query).status();
}

Status BuildOrder(const std::string& order_by) {
  RenderQuery query;
  query.order_by = order_by;
  return BuildRenderQuery(query).status();
}

std::string Repeat(const std::string& text, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += text;
  return out;
}

const std::vector<BadInput>& BadFilters() {
  static const std::vector<BadInput> cases = {
      // Columns.
      {"smpler = 'Euler a'", "unknown column 'smpler'; did you mean 'sampler'?", 0, 6},
      {"cfg >= 6 AND scroe > 0.5", "unknown column 'scroe'; did you mean 'score'?", 13, 5},
      {"xyzzy = 1", "unknown column 'xyzzy'; columns are: id, result, param_hash", 0, 5},
      {"cfg_scale > 5", "unknown column 'cfg_scale'; did you mean 'cfg'?", 0, 9},
      {"params.x = 1 AND renders.id = 1", "unknown column 'renders.id'", 17, 10},
      // Types.
      {"sampler = 5", "'sampler' is a text column; compare it with a quoted string, e.g. '5'",
       10, 1},
      {"pose IN ('a', 3)", "'pose' is a text column", 14, 1},
      {"cfg >= 'six'", "'cfg' is a number column but 'six' is a string", 7, 5},
      {"steps = \"20\"", "'steps' is a number column", 8, 4},
      {"cfg = TRUE", "'cfg' is a number column; TRUE and FALSE", 6, 4},
      {"cfg LIKE '7%'", "LIKE matches text, but 'cfg' is a real column", 0, 3},
      {"face_found = 2", "'face_found' is true or false", 13, 1},
      {"face_found = 'yes'", "'face_found' is true or false", 13, 5},
      {"face_found > true", "compare it with = or !=", 11, 1},
      {"created > 'yesterday'", "'created' is a time; give a date like '2026-12-01'", 10, 11},
      {"rendered < '2026-02-30'", "'rendered' is a time", 11, 12},
      // Injection attempts.
      {"cfg = 1; DROP TABLE renders", "unexpected character ';'", 7, 1},
      {"sampler = 'x' OR 1=1 --", "expected a column name before the number 1", 17, 1},
      {"sampler = \"a\" UNION SELECT * FROM renders",
       "unexpected 'UNION' after a complete condition", 14, 5},
      {"sampler = 'x' -- and the rest", "comments are not part of the filter language", 14, 2},
      {"sampler = \\'x\\'", "unexpected character '\\'", 10, 1},
      {std::string("sampler = 'a\0b'", 15), "NUL byte", 12, 1},
      {std::string("cfg = 1\0", 8), "NUL byte", 7, 1},
      {"sampler = 'x') OR (1 = 1", "unbalanced ')'", 13, 1},
      {"sampler = 'x' OR sqlite_master.name = 'renders'", "unknown column 'sqlite_master.name'", 17, 18},
      {"cfg = 1 /* x */", "unexpected character '/'", 8, 1},
      // Quotes and parentheses.
      {"sampler = 'Euler a", "unterminated string: no closing '", 10, 1},
      {"sampler = \"Euler a", "unterminated string: no closing \"", 10, 1},
      {"sampler = 'it''s", "unterminated string", 10, 1},
      {"(cfg = 1", "expected ')' to close the '(' at column 1, found the end", 8, 1},
      {"((cfg = 1) AND (steps = 2)", "expected ')' to close the '(' at column 1", 26, 1},
      {"cfg = 1)", "unbalanced ')'", 7, 1},
      {"()", "expected a column name or '(', found ')'", 1, 1},
      // Numbers.
      {"seed = 99999999999999999999", "out of range (integers are 64-bit", 7, 20},
      {"seed = -9223372036854775809", "out of range", 7, 20},
      {"cfg > 1e999", "number 1e999 is out of range", 6, 5},
      {"cfg = 1.5.2", "malformed number '1.5.2'", 6, 5},
      {"cfg = 12abc", "malformed number '12abc'", 6, 5},
      {"cfg = 1.", "expected digits after '.'", 6, 2},
      {"cfg = 1e", "expected digits in the exponent", 6, 2},
      // Grammar.
      {"cfg = 1 AND", "the expression ends early", 11, 1},
      {"cfg = 1 OR", "the expression ends early", 10, 1},
      {"cfg = NULL", "write IS NULL or IS NOT NULL", 6, 4},
      {"sampler = Euler", "found the name 'Euler'; quote text values: 'Euler'", 10, 5},
      {"pose IN ()", "empty IN list", 9, 1},
      {"pose IN 'a'", "expected '(' after IN", 8, 3},
      {"pose IN ('a' 'b')", "expected ',' or ')' in the IN list", 13, 3},
      {"pose NOT = 'a'", "expected IN or LIKE after NOT", 9, 1},
      {"sampler LIKE 5", "LIKE needs a quoted pattern", 13, 1},
      {"score IS 5", "expected NULL after IS", 9, 1},
      {"score IS NOT 'x'", "expected NULL after IS NOT", 13, 3},
      {"cfg 5", "expected a comparison after 'cfg'", 4, 1},
      {"cfg = 1 ANDD steps = 2", "(did you mean AND?)", 8, 4},
      {"5 = cfg", "expected a column name before the number 5", 0, 1},
      {"cfg ! 5", "unexpected character '!'", 4, 1},
      {"cfg = = 5", "expected a value", 6, 1},
      {"params.a..b = 1", "expected a name after '.'", 8, 1},
      {"params.x[a] = 1", "expected an array index like [0]", 8, 1},
      // Non-ASCII: the caret counts characters, not bytes.
      {"pose = café", "unexpected character 'é'", 10, 1},
      {"pose = 'é' AND smpler = 1", "did you mean 'sampler'?", 15, 6},
      {"pose = '東京' AND ☃ = 1", "unexpected character '☃'", 16, 1},
      {"cfg = 1 AND \xff", "unexpected character", 12, 1},
      // Whitespace other than spaces still lines up.
      {"pose = 'a'\t AND\nsmpler = 1", "did you mean 'sampler'?", 16, 6},
  };
  return cases;
}

TEST(QueryErrors, BadFiltersPointAtTheProblem) {
  ASSERT_GE(BadFilters().size(), 30u);
  for (const BadInput& bad : BadFilters()) {
    SCOPED_TRACE(bad.text);
    ExpectError(BuildWhere(bad.text), bad.text, bad);
  }
}

TEST(QueryErrors, BadOrdersPointAtTheProblem) {
  const std::vector<BadInput> cases = {
      {"scroe desc", "order by: unknown column 'scroe'; did you mean 'score'?", 0, 5},
      {"score descc", "(did you mean desc?)", 6, 5},
      {"score desc cfg", "expected ASC, DESC or ',' after 'score'", 11, 3},
      {"score;", "unexpected character ';'", 5, 1},
      {"score, ", "the order ends early", 7, 1},
      {"score desc, 5", "expected a column name, found '5'", 12, 1},
      {"score desc; DROP TABLE renders", "unexpected character ';'", 10, 1},
  };
  for (const BadInput& bad : cases) {
    SCOPED_TRACE(bad.text);
    ExpectError(BuildOrder(bad.text), bad.text, bad);
  }
}

TEST(QueryErrors, NestingIsLimitedWithoutRecursingDeeper) {
  const std::string parens = std::string(kMaxNesting + 1, '(') + "cfg = 1" +
                             std::string(kMaxNesting + 1, ')');
  ExpectError(BuildWhere(parens), parens,
              {"", "nests deeper than 64 levels", static_cast<std::size_t>(kMaxNesting), 1});
  const std::string nots = Repeat("NOT ", kMaxNesting + 1) + "cfg = 1";
  ExpectError(BuildWhere(nots), nots,
              {"", "nests deeper than 64 levels", 4 * static_cast<std::size_t>(kMaxNesting), 3});
  // Far deeper input fails the same way (and would overflow an unbounded parser's stack).
  const std::string deep(kMaxExpressionBytes, '(');
  const Status status = BuildWhere(deep);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("nests deeper than 64"), std::string::npos);
}

TEST(QueryErrors, LongInputIsRefusedWithoutEcho) {
  const std::string where = "cfg = 1" + Repeat(" OR cfg = 1", 1000);
  ASSERT_GT(where.size(), kMaxExpressionBytes);
  const Status status = BuildWhere(where);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "the expression is too long: " + std::to_string(where.size()) +
                                  " bytes; the limit is 10000");
  // Just under the limit is fine.
  std::string fits = "cfg = 1";
  while (fits.size() + 11 <= kMaxExpressionBytes) fits += " OR cfg = 1";
  EXPECT_TRUE(BuildWhere(fits).ok());
}

TEST(QueryErrors, BadColumnsLimitAndOffset) {
  RenderQuery query;
  query.columns = {"sampler", "smpler"};
  Status status = BuildRenderQuery(query).status();
  EXPECT_EQ(status.message(), "columns: unknown column 'smpler'; did you mean 'sampler'?");
  query.columns = {"params.a'b"};
  status = BuildRenderQuery(query).status();
  EXPECT_NE(status.message().find("is not a params path"), std::string::npos);
  query.columns = {};
  query.limit = -1;
  EXPECT_EQ(BuildRenderQuery(query).status().message(), "limit must be 0 (no limit) or more, got -1");
  query.limit = 0;
  query.offset = -5;
  EXPECT_EQ(BuildRenderQuery(query).status().message(), "offset must be 0 or more, got -5");
}

TEST(QueryErrors, EmptyExpressionParsesAsAnError) {
  const ParseResult parsed = ParseExpression("   ");
  EXPECT_FALSE(parsed.ok);
  EXPECT_NE(parsed.error.message.find("the expression is empty"), std::string::npos);
  // ... while an empty filter in a query means "every render".
  EXPECT_TRUE(BuildWhere("  ").ok());
}

TEST(QueryErrors, FormatShowsControlCharactersAsSpaces) {
  const std::string text = "a\tb";
  EXPECT_EQ(FormatQueryError(text, {"bad", 2, 1}), "bad\n  a b\n    ^");
  // A place past the end (the end of the text) still gets one caret.
  EXPECT_EQ(FormatQueryError("ab", {"end", 2, 0}), "end\n  ab\n    ^");
}

}  // namespace
}  // namespace farm::query
