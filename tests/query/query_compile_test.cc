// BuildRenderQuery: the SQL text and binds of well-formed queries (no database).
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "farm/query/catalog.h"
#include "farm/query/expression.h"
#include "farm/query/render_query.h"
#include "farm/store/render_sql.h"

namespace farm::query {
namespace {

using store::SqlValue;

// params.<path>: json_extract over the whole record, wherever its members are stored.
const std::string kParamsSql = std::string("json_extract(") + store::kRenderRecordSql + ", ?)";

BuiltQuery MustBuild(const RenderQuery& query) {
  StatusOr<BuiltQuery> built = BuildRenderQuery(query);
  EXPECT_TRUE(built.ok()) << built.status().message();
  return built.ok() ? *built : BuiltQuery{};
}

// The text between " WHERE " and " ORDER BY ".
std::string WhereOf(const BuiltQuery& built) {
  const auto begin = built.sql.find(" WHERE ");
  const auto end = built.sql.find(" ORDER BY ");
  if (begin == std::string::npos || end == std::string::npos) return "";
  return built.sql.substr(begin + 7, end - begin - 7);
}

std::string OrderOf(const BuiltQuery& built) {
  const auto begin = built.sql.find(" ORDER BY ");
  const auto end = built.sql.find(" LIMIT ");
  return built.sql.substr(begin + 10, end == std::string::npos ? std::string::npos
                                                               : end - begin - 10);
}

// A query that selects only the always-present columns, so binds are the filter's.
RenderQuery Filter(const std::string& where) {
  RenderQuery query;
  query.columns = {"id"};
  query.where = where;
  return query;
}

std::vector<SqlValue> Binds(const std::string& where) { return MustBuild(Filter(where)).binds; }

TEST(QueryCompile, ComparisonsBindEveryLiteral) {
  const BuiltQuery built = MustBuild(Filter("sampler = 'Euler a' AND cfg >= 6"));
  EXPECT_EQ(WhereOf(built), "(r.sampler = ? AND r.cfg >= ?)");
  EXPECT_EQ(built.binds, (std::vector<SqlValue>{std::string("Euler a"), std::int64_t{6}}));
}

TEST(QueryCompile, OperatorsAreNormalised) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps != 20"))), "r.steps <> ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps <> 20"))), "r.steps <> ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps == 20"))), "r.steps = ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps<20"))), "r.steps < ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps<=20"))), "r.steps <= ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("steps>20"))), "r.steps > ?");
}

TEST(QueryCompile, NumbersKeepTheirKind) {
  EXPECT_EQ(Binds("cfg > -1.5"), (std::vector<SqlValue>{-1.5}));
  EXPECT_EQ(Binds("cfg > 2e1"), (std::vector<SqlValue>{20.0}));
  EXPECT_EQ(Binds("cfg > 7.25E-1"), (std::vector<SqlValue>{0.725}));
  EXPECT_EQ(Binds("seed = -9223372036854775808"),
            (std::vector<SqlValue>{std::int64_t{INT64_MIN}}));
  EXPECT_EQ(Binds("seed = 9223372036854775807"),
            (std::vector<SqlValue>{std::int64_t{INT64_MAX}}));
}

TEST(QueryCompile, StringsUnquoteDoubledQuotes) {
  EXPECT_EQ(Binds("prompt = 'it''s'"), (std::vector<SqlValue>{std::string("it's")}));
  EXPECT_EQ(Binds("prompt = \"say \"\"hi\"\"\""), (std::vector<SqlValue>{std::string("say \"hi\"")}));
  EXPECT_EQ(Binds("prompt = 'a \"b\"'"), (std::vector<SqlValue>{std::string("a \"b\"")}));
  EXPECT_EQ(Binds("prompt = 'back\\slash'"), (std::vector<SqlValue>{std::string("back\\slash")}));
  EXPECT_EQ(Binds("prompt = ''"), (std::vector<SqlValue>{std::string()}));
  EXPECT_EQ(Binds("pose = 'café'"), (std::vector<SqlValue>{std::string("café")}));
}

TEST(QueryCompile, KeywordsAreCaseInsensitiveAndPrecedenceIsSql) {
  const BuiltQuery built =
      MustBuild(Filter("pose = 'a' or NOT tone = 'warm' And steps in (20, 30)"));
  EXPECT_EQ(WhereOf(built), "(r.pose = ? OR (r.tone <> ? AND r.steps IN (?, ?)))");
  EXPECT_EQ(built.binds.size(), 4u);
}

TEST(QueryCompile, ParenthesesGroup) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("(pose = 'a' OR pose = 'b') AND cfg > 5"))),
            "((r.pose = ? OR r.pose = ?) AND r.cfg > ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("(cfg = 1 AND (steps = 2 AND (pose = 'a')))"))),
            "(r.cfg = ? AND r.steps = ? AND r.pose = ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("((((cfg = 1))))"))), "r.cfg = ?");
}

// NOT goes down to the conditions (De Morgan; the same under SQL's NULLs), so the SQL
// nests only where AND and OR alternate.
TEST(QueryCompile, NotIsPushedToTheConditions) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT NOT cfg = 1"))), "r.cfg = ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT (pose = 'a' OR pose = 'b')"))),
            "(r.pose <> ? AND r.pose <> ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT (cfg < 1 AND NOT (steps >= 2 OR pose IS NULL))"))),
            "(r.cfg >= ? OR r.steps >= ? OR r.pose IS NULL)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT cfg <= 1 AND NOT cfg > 9 AND NOT cfg != 5"))),
            "(r.cfg > ? AND r.cfg <= ? AND r.cfg = ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT pose IN ('a') OR NOT pose NOT IN ('b')"))),
            "(r.pose NOT IN (?) OR r.pose IN (?))");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT sampler NOT LIKE 'x%' AND NOT prompt LIKE '%y'"))),
            "(r.sampler LIKE ? AND json_extract(" + std::string(farm::store::kRenderSharedSql) +
                ", '$.prompt') NOT LIKE ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT score IS NULL AND NOT (euclidean IS NOT NULL)"))),
            "(rr.score IS NOT NULL AND rr.euclidean IS NULL)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("NOT face_found = true"))), "(rr.faces_found > 0) <> ?");
}

TEST(QueryCompile, DeepNestingComesFirstInItsChain) {
  // 20 alternating levels: the nested part leads each chain.
  std::string where = "cfg = 0";
  for (int i = 1; i <= 20; ++i) {
    where = "steps = " + std::to_string(i) + (i % 2 ? " OR (" : " AND (") + where + ")";
  }
  const std::string sql = WhereOf(MustBuild(Filter(where)));
  // Levels deeper than 8 lead their chain; shallower ones keep the written order.
  EXPECT_EQ(sql.find_first_not_of('('), 13u) << sql;
  EXPECT_NE(sql.find("(r.steps = ? OR r.cfg = ?)"), std::string::npos) << sql;
}

TEST(QueryCompile, InLikeAndNull) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("pose NOT IN ('a', \"b\")"))), "r.pose NOT IN (?, ?)");
  EXPECT_EQ(WhereOf(MustBuild(Filter("sampler LIKE 'DPM%'"))), "r.sampler LIKE ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("sampler not like 'DPM%'"))), "r.sampler NOT LIKE ?");
  EXPECT_EQ(WhereOf(MustBuild(Filter("score IS NULL"))), "rr.score IS NULL");
  EXPECT_EQ(WhereOf(MustBuild(Filter("score is not null"))), "rr.score IS NOT NULL");
}

TEST(QueryCompile, ColumnNamesAreCaseInsensitive) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("Sampler = 'x' AND CFG > 1"))), "(r.sampler = ? AND r.cfg > ?)");
}

TEST(QueryCompile, BoolColumnTakesTrueFalseOneZero) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("face_found = true"))), "(rr.faces_found > 0) = ?");
  EXPECT_EQ(Binds("face_found = TRUE"), (std::vector<SqlValue>{std::int64_t{1}}));
  EXPECT_EQ(Binds("face_found != false"), (std::vector<SqlValue>{std::int64_t{0}}));
  EXPECT_EQ(Binds("face_found = 1"), (std::vector<SqlValue>{std::int64_t{1}}));
  EXPECT_EQ(Binds("face_found IN (0)"), (std::vector<SqlValue>{std::int64_t{0}}));
}

TEST(QueryCompile, TimeColumnsTakeIsoDatesAsMilliseconds) {
  EXPECT_EQ(Binds("created >= '2026-12-01'"), (std::vector<SqlValue>{std::int64_t{1796083200000}}));
  EXPECT_EQ(Binds("created >= \"2026-12-01T10:00:00Z\""),
            (std::vector<SqlValue>{std::int64_t{1796083200000 + 36000000}}));
  EXPECT_EQ(Binds("rendered < '2026-12-01T10:00:00.250+02:00'"),
            (std::vector<SqlValue>{std::int64_t{1796083200000 + 28800000 + 250}}));
  EXPECT_EQ(Binds("rendered < '1970-01-01 00:00'"), (std::vector<SqlValue>{std::int64_t{0}}));
  EXPECT_EQ(Binds("created > 1796083200000"), (std::vector<SqlValue>{std::int64_t{1796083200000}}));
  EXPECT_EQ(WhereOf(MustBuild(Filter("created >= '2024-02-29'"))), "rr.created_at >= ?");
}

TEST(QueryCompile, ParamsPathIsBoundNotSpliced) {
  const BuiltQuery built = MustBuild(Filter("params.stages[0].kind = 'detailer'"));
  EXPECT_EQ(WhereOf(built), kParamsSql + " = ?");
  EXPECT_EQ(built.binds,
            (std::vector<SqlValue>{std::string("$.stages[0].kind"), std::string("detailer")}));
  // Params compare with any value; the path's case is kept (JSON keys are case-sensitive).
  EXPECT_EQ(Binds("PARAMS.Rng IN (1, 2.5, 'x', true)"),
            (std::vector<SqlValue>{std::string("$.Rng"), std::int64_t{1}, 2.5, std::string("x"),
                                   std::int64_t{1}}));
  EXPECT_EQ(WhereOf(MustBuild(Filter("params.prompt LIKE '%red%'"))), kParamsSql + " LIKE ?");
}

TEST(QueryCompile, DerivedColumnsComeFromTheCatalogue) {
  EXPECT_EQ(WhereOf(MustBuild(Filter("size = '512x768'"))), "(r.width || 'x' || r.height) = ?");
  EXPECT_NE(WhereOf(MustBuild(Filter("lora_step = 1600"))).find("instr(r.lora_ref, '@')"),
            std::string::npos);
}

TEST(QueryCompile, JoinsOnlyWhatTheColumnsNeed) {
  RenderQuery query;
  query.columns = {"id", "cfg"};
  query.where = "cfg > 3";
  const BuiltQuery plain = MustBuild(query);
  EXPECT_EQ(plain.sql.find("JOIN sweeps"), std::string::npos) << plain.sql;
  EXPECT_EQ(plain.sql.find("JOIN jobs"), std::string::npos) << plain.sql;

  query.where = "sweep_name = 'tone'";
  const BuiltQuery with_sweeps = MustBuild(query);
  EXPECT_NE(with_sweeps.sql.find(" JOIN sweeps s ON s.id = rr.sweep_id"), std::string::npos);
  EXPECT_EQ(with_sweeps.sql.find("JOIN jobs"), std::string::npos);

  query.where = "";
  query.order_by = "status";
  const BuiltQuery with_jobs = MustBuild(query);
  EXPECT_NE(with_jobs.sql.find(" LEFT JOIN jobs j ON j.id = rr.job_id"), std::string::npos);
  EXPECT_EQ(with_jobs.sql.find("JOIN sweeps"), std::string::npos);

  query.order_by = "";
  query.columns = {"sweep_name"};
  EXPECT_NE(MustBuild(query).sql.find("JOIN sweeps"), std::string::npos);
}

TEST(QueryCompile, SweepFilterIsBoundAndComesFirst) {
  RenderQuery query = Filter("cfg > 3");
  query.sweep_ids = {4, 9};
  const BuiltQuery built = MustBuild(query);
  EXPECT_EQ(WhereOf(built), "rr.sweep_id IN (?, ?) AND r.cfg > ?");
  EXPECT_EQ(built.binds, (std::vector<SqlValue>{std::int64_t{4}, std::int64_t{9}, std::int64_t{3}}));
  query.where = "";
  EXPECT_EQ(WhereOf(MustBuild(query)), "rr.sweep_id IN (?, ?)");
}

TEST(QueryCompile, OrderByWalksTheScoreIndex) {
  RenderQuery query = Filter("sampler = 'Euler a'");
  query.order_by = "score desc";
  query.limit = 100;
  const BuiltQuery built = MustBuild(query);
  EXPECT_NE(built.sql.find(" ORDER BY rr.score DESC, rr.id LIMIT ?"), std::string::npos) << built.sql;
  EXPECT_EQ(std::get<std::int64_t>(built.binds.back()), 100);
  // Best-first with a limit fixes the loop order (render_results outside) ...
  EXPECT_NE(built.sql.find(" FROM render_results rr CROSS JOIN renders r "), std::string::npos);
  // ... unless the filter pins a few renders, or there is no limit.
  query.where = "seed IN (1, 2) AND cfg > 3";
  EXPECT_EQ(MustBuild(query).sql.find("CROSS JOIN"), std::string::npos);
  query.where = "sampler = 'Euler a'";
  query.limit = 0;
  EXPECT_EQ(MustBuild(query).sql.find("CROSS JOIN"), std::string::npos);
}

TEST(QueryCompile, DefaultOrderWithALimitWalksRendersById) {
  RenderQuery query = Filter("sampler = 'Euler a' AND cfg >= 6");
  query.limit = 100;
  const BuiltQuery built = MustBuild(query);
  EXPECT_NE(built.sql.find(" FROM renders r NOT INDEXED CROSS JOIN render_results rr "), std::string::npos)
      << built.sql;
  EXPECT_NE(built.sql.find(" ORDER BY r.id, rr.id LIMIT ?"), std::string::npos) << built.sql;
  // Not within sweeps (their index is the better start), nor for a few pinned renders.
  query.sweep_ids = {3};
  EXPECT_EQ(MustBuild(query).sql.find("CROSS JOIN"), std::string::npos);
  query.sweep_ids.clear();
  query.where = "seed = 7";
  EXPECT_EQ(MustBuild(query).sql.find("CROSS JOIN"), std::string::npos);
}

TEST(QueryCompile, OrderByLists) {
  RenderQuery query;
  query.columns = {"id"};
  query.order_by = "score DESC, cfg, Steps asc";
  EXPECT_EQ(OrderOf(MustBuild(query)), "rr.score DESC, r.cfg, r.steps ASC, rr.id");
  query.order_by = "";
  EXPECT_EQ(OrderOf(MustBuild(query)), "r.id, rr.id");
  query.order_by = "params.seed desc";
  const BuiltQuery built = MustBuild(query);
  EXPECT_EQ(OrderOf(built), kParamsSql + " DESC, rr.id");
  EXPECT_EQ(built.binds, (std::vector<SqlValue>{std::string("$.seed")}));
}

TEST(QueryCompile, LimitAndOffsetAreBound) {
  RenderQuery query;
  query.columns = {"id"};
  query.limit = 10;
  query.offset = 20;
  BuiltQuery built = MustBuild(query);
  EXPECT_NE(built.sql.find(" LIMIT ? OFFSET ?"), std::string::npos);
  EXPECT_EQ(built.binds, (std::vector<SqlValue>{std::int64_t{10}, std::int64_t{20}}));
  query.limit = 0;  // an offset alone: no limit
  built = MustBuild(query);
  EXPECT_EQ(built.binds, (std::vector<SqlValue>{std::int64_t{-1}, std::int64_t{20}}));
  query.offset = 0;
  EXPECT_EQ(MustBuild(query).sql.find("LIMIT"), std::string::npos);
}

TEST(QueryCompile, BindsFollowTheOrderOfPlaceholders) {
  RenderQuery query;
  query.columns = {"params.engine"};
  query.sweep_ids = {7};
  query.where = "params.rng = 'cpu'";
  query.order_by = "params.steps";
  query.limit = 5;
  const BuiltQuery built = MustBuild(query);
  EXPECT_EQ(built.binds,
            (std::vector<SqlValue>{std::string("$.engine"), std::int64_t{7}, std::string("$.rng"),
                                   std::string("cpu"), std::string("$.steps"), std::int64_t{5}}));
  std::size_t placeholders = 0;
  for (char c : built.sql) placeholders += c == '?';
  EXPECT_EQ(placeholders, built.binds.size());
}

TEST(QueryCompile, ColumnsAlwaysHoldIdParamHashAndScore) {
  RenderQuery query;
  query.columns = {"cfg", "sampler", "cfg"};
  BuiltQuery built = MustBuild(query);
  EXPECT_EQ(built.columns, (std::vector<std::string>{"id", "param_hash", "score", "cfg", "sampler"}));
  EXPECT_EQ(built.types[3], ColumnType::kReal);
  query.columns = {"score", "ID"};
  built = MustBuild(query);
  EXPECT_EQ(built.columns, (std::vector<std::string>{"param_hash", "score", "id"}));
  query.columns = {};
  built = MustBuild(query);
  EXPECT_EQ(built.columns, DefaultRenderColumns());  // they hold all three already
}

TEST(QueryCompile, LongChainsStayShallow) {
  std::string where = "cfg = 0";
  for (int i = 1; i < 200; ++i) where += " OR cfg = " + std::to_string(i);
  const BuiltQuery built = MustBuild(Filter(where));
  EXPECT_EQ(built.binds.size(), 200u);
  // Split into halves: the deepest parenthesis nesting is about log2(200 / 16) + 1.
  int depth = 0, deepest = 0;
  for (char c : WhereOf(built)) {
    if (c == '(') deepest = std::max(deepest, ++depth);
    if (c == ')') --depth;
  }
  EXPECT_LE(deepest, 6);
  EXPECT_EQ(depth, 0);
}

TEST(QueryCompile, CatalogueHasEveryContractColumn) {
  for (const char* name :
       {"id", "result", "param_hash", "sweep", "sweep_name", "sampler", "scheduler", "steps",
        "cfg", "clip_skip", "seed", "width", "height", "size", "pose", "tone", "denoise", "lora",
        "lora_hash", "lora_weight", "lora_step", "checkpoint", "prompt", "negative_prompt",
        "engine", "stages", "score", "euclidean", "faces", "face_found", "identity", "status",
        "agent", "agent_version", "seconds", "image_sha256", "created", "rendered"}) {
    const ColumnInfo* column = FindRenderColumn(name);
    ASSERT_NE(column, nullptr) << name;
    EXPECT_FALSE(column->help.empty()) << name;
  }
  EXPECT_EQ(FindRenderColumn("params.a.b[0]"), FindRenderColumn("params.a.b[0]"));
  EXPECT_EQ(FindRenderColumn("params.a.b[0]")->name, "params.a.b[0]");
  EXPECT_EQ(FindRenderColumn("params."), nullptr);
  EXPECT_EQ(FindRenderColumn("params.a..b"), nullptr);
  EXPECT_EQ(FindRenderColumn("params.a[x]"), nullptr);
  EXPECT_EQ(FindRenderColumn("params.a'"), nullptr);
  EXPECT_EQ(FindRenderColumn("nope"), nullptr);
}

TEST(QueryCompile, RowsToJsonTypesValues) {
  RenderQuery query;
  query.columns = {"id", "param_hash", "score", "face_found", "created", "sampler"};
  const BuiltQuery built = MustBuild(query);
  store::SelectResult result;
  result.columns = built.columns;
  result.rows.push_back({std::int64_t{3}, std::string("ab"), 0.5, std::int64_t{1},
                         std::int64_t{1796083200250}, std::string("Euler a")});
  result.rows.push_back({std::int64_t{4}, std::string("cd"), std::monostate{}, std::int64_t{0},
                         std::int64_t{0}, std::monostate{}});
  const nlohmann::ordered_json json = RowsToJson(built, result);
  EXPECT_EQ(json.dump(),
            R"([{"id":3,"param_hash":"ab","score":0.5,"face_found":true,)"
            R"("created":"2026-12-01T00:00:00.250Z","sampler":"Euler a"},)"
            R"({"id":4,"param_hash":"cd","score":null,"face_found":false,)"
            R"("created":"1970-01-01T00:00:00.000Z","sampler":null}])");
}

TEST(QueryParse, TreeKeepsOffsets) {
  const ParseResult parsed = ParseExpression("  cfg >= 6 AND pose IN ('a')");
  ASSERT_TRUE(parsed.ok) << parsed.error.message;
  ASSERT_EQ(parsed.expr.kind, Expr::Kind::kAnd);
  ASSERT_EQ(parsed.expr.children.size(), 2u);
  const Expr& compare = parsed.expr.children[0];
  EXPECT_EQ(compare.column, "cfg");
  EXPECT_EQ(compare.column_offset, 2u);
  EXPECT_EQ(compare.op, ">=");
  EXPECT_EQ(compare.op_offset, 6u);
  EXPECT_EQ(compare.values[0].offset, 9u);
  const Expr& in = parsed.expr.children[1];
  EXPECT_EQ(in.kind, Expr::Kind::kIn);
  EXPECT_EQ(in.values[0].text, "a");
  EXPECT_EQ(in.values[0].offset, 24u);
  EXPECT_EQ(in.values[0].length, 3u);
}

TEST(QueryParse, MaximumNestingStillParses) {
  std::string text(kMaxNesting, '(');
  text += "cfg = 1" + std::string(kMaxNesting, ')');
  EXPECT_TRUE(ParseExpression(text).ok);
  std::string nots;
  for (int i = 0; i < kMaxNesting; ++i) nots += "NOT ";
  EXPECT_TRUE(ParseExpression(nots + "cfg = 1").ok);
}

}  // namespace
}  // namespace farm::query
