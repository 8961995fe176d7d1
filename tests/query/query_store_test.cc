// Render queries against a real database made through the Store API: the built SQL runs
// through Store::Select, returns the renders the filter describes, and text that looks
// like SQL only ever matches as a literal.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "farm/query/expression.h"
#include "farm/query/render_query.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace farm::query {
namespace {

using store::SqlValue;

constexpr const char* kSamplers[] = {"Euler a", "Euler", "DPM++ 2M"};
constexpr const char* kPoses[] = {"front", "side", ""};  // "" = none (NULL)
constexpr const char* kInjectedSampler = "x' OR 1=1 --";
constexpr const char* kInjectedPrompt = "'; DROP TABLE renders; --";

// One render of the fixture and what the store holds for it in sweep "a".
struct Fixture {
  RenderParams params;
  std::int64_t render_id = 0;
  std::optional<double> score;  // nullopt: no face found
};

RenderParams Params(int i) {
  RenderParams p;
  p.prompt = "studio portrait " + std::to_string(i);
  p.negative_prompt = "blurry";
  p.seed = 100 + static_cast<std::uint64_t>(i);
  p.sampler = kSamplers[i % 3];
  p.scheduler = i % 2 == 0 ? "normal" : "karras";
  p.steps = 20 + 5 * (i % 2);
  p.cfg = 3 + i;
  p.clip_skip = 1 + i % 2;
  p.pose = kPoses[i % 3];
  p.tone = i % 2 == 0 ? "warm" : "cool";
  p.checkpoint_sha256 = Sha256Hex("checkpoint");
  if (i % 4 == 0) {
    p.loras.push_back({"train:" + Sha256Hex("train") + "@" + std::to_string(800 * (1 + i / 4)), 0.75});
  } else {
    p.loras.push_back({"sha256:" + Sha256Hex("lora"), 1.0});
  }
  return p;
}

class QueryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "query_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store::StoreOptions options;
    auto now = std::make_shared<std::int64_t>(1796083200000);  // 2026-12-01T00:00:00Z
    options.clock_ms = [now] { return (*now)++; };
    auto opened = store::Store::Open((dir_ / "farm.db").string(), store::OpenMode::kReadWrite,
                                     std::move(options));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();

    store::NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    auto identity = store_->CreateIdentity(ana);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    identity_ = *identity;

    // Sweep "a": renders 0..9 and one whose text looks like SQL (index 10), all rendered
    // and scored (render 5: no face). Sweep "b": renders 8 and 9 again (shared), unscored.
    for (int i = 0; i <= 10; ++i) {
      Fixture render;
      render.params = Params(i);
      if (i == 10) {
        render.params.sampler = kInjectedSampler;
        render.params.prompt = kInjectedPrompt;
      }
      if (i != 5) render.score = 0.3 + 0.05 * ((i * 7) % 11);
      renders_.push_back(render);
    }
    std::vector<store::NewJob> jobs;
    for (int i = 0; i <= 10; ++i) jobs.push_back(RenderJob(renders_[i].params));
    for (int i = 0; i <= 10; ++i) jobs.push_back(ScoreJob("a", i));
    const store::CreatedSweep a = Sweep("a", std::move(jobs));
    sweep_a_ = a.sweep_id;
    for (int i = 0; i <= 10; ++i) {
      renders_[i].render_id = a.jobs.render_ids[i];
      store::RenderResultUpdate update;
      update.job_id = a.jobs.job_ids[i];
      update.image_sha256 = Sha256Hex("png" + std::to_string(i));
      update.artifact_id = Artifact("png" + std::to_string(i));
      update.agent_id = i % 2 == 0 ? "agent-even" : "agent-odd";
      update.agent_version = "1.0";
      update.seconds = 2.0 + i;
      ASSERT_TRUE(store_->RecordRenderResult(update).ok());
      store::NewScore score;
      score.render_id = renders_[i].render_id;
      score.identity_id = identity_;
      score.job_id = a.jobs.job_ids[11 + i];
      score.metric = "cosine";
      score.model_version = "face-1";
      score.similarity = renders_[i].score;
      score.faces_found = renders_[i].score ? 1 : 0;
      ASSERT_TRUE(store_->InsertScores({score}).ok());
    }
    const store::CreatedSweep b =
        Sweep("b", {RenderJob(renders_[8].params), RenderJob(renders_[9].params)});
    sweep_b_ = b.sweep_id;
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static store::NewJob RenderJob(const RenderParams& params) {
    store::NewJob job;
    job.kind = store::JobKind::kRender;
    job.render = params;
    return job;
  }

  static store::NewJob ScoreJob(const std::string& sweep, int i) {
    store::NewJob job;
    job.kind = store::JobKind::kScore;
    job.params_json = "{\"score\":\"" + sweep + std::to_string(i) + "\"}";
    job.param_hash = Sha256Hex(job.params_json);
    return job;
  }

  store::CreatedSweep Sweep(const std::string& name, std::vector<store::NewJob> jobs) {
    store::NewSweep sweep;
    sweep.name = name;
    sweep.spec_yaml = "name: " + name + "\n";
    sweep.jobs = std::move(jobs);
    auto created = store_->CreateSweep(sweep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : store::CreatedSweep{};
  }

  std::int64_t Artifact(const std::string& bytes) {
    store::NewArtifact artifact;
    artifact.sha256 = Sha256Hex(bytes);
    artifact.size = static_cast<std::int64_t>(bytes.size());
    artifact.path = "a/" + artifact.sha256;
    artifact.media_type = "image/png";
    auto id = store_->InsertArtifact(artifact);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  // Rows with each value moved to the position of its name in `names` (the query puts
  // id, param_hash and score in front when the list lacks them).
  store::SelectResult Run(const RenderQuery& query) {
    StatusOr<BuiltQuery> built = BuildRenderQuery(query);
    EXPECT_TRUE(built.ok()) << built.status().message();
    if (!built.ok()) return {};
    StatusOr<store::SelectResult> result = store_->Select(built->sql, built->binds);
    EXPECT_TRUE(result.ok()) << result.status().ToString() << "\n" << built->sql;
    if (!result.ok()) return {};
    store::SelectResult named;
    named.columns = query.columns;
    for (const auto& row : result->rows) {
      std::vector<SqlValue> values;
      for (const std::string& name : query.columns) {
        const auto at = std::find(built->columns.begin(), built->columns.end(), name);
        EXPECT_NE(at, built->columns.end()) << name;
        if (at != built->columns.end()) values.push_back(row[at - built->columns.begin()]);
      }
      named.rows.push_back(std::move(values));
    }
    return named;
  }

  // Render ids (first column) of the rows `where` selects in sweep "a", by id.
  std::vector<std::int64_t> Ids(const std::string& where) {
    RenderQuery query;
    query.sweep_ids = {sweep_a_};
    query.where = where;
    query.columns = {"id"};
    std::vector<std::int64_t> ids;
    for (const auto& row : Run(query).rows) ids.push_back(std::get<std::int64_t>(row[0]));
    return ids;
  }

  // The ids of the fixture renders that `keep` accepts, by id.
  std::vector<std::int64_t> Expected(const std::function<bool(const Fixture&)>& keep) {
    std::vector<std::int64_t> ids;
    for (const Fixture& render : renders_) {
      if (keep(render)) ids.push_back(render.render_id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::int64_t CountRenders() {
    auto result = store_->Select("SELECT count(*) FROM renders", {});
    EXPECT_TRUE(result.ok());
    return result.ok() ? std::get<std::int64_t>(result->rows[0][0]) : -1;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::int64_t identity_ = 0;
  std::vector<Fixture> renders_;
  std::int64_t sweep_a_ = 0;
  std::int64_t sweep_b_ = 0;
};

TEST_F(QueryStoreTest, FilterReturnsTheMatchingRenders) {
  EXPECT_EQ(Ids("sampler = 'Euler a' AND cfg >= 6"), Expected([](const Fixture& r) {
              return r.params.sampler == "Euler a" && r.params.cfg >= 6;
            }));
  EXPECT_EQ(Ids("pose IN ('front', 'side') AND NOT tone = 'warm'"), Expected([](const Fixture& r) {
              return !r.params.pose.empty() && r.params.tone != "warm";
            }));
  EXPECT_EQ(Ids("pose IS NULL OR steps > 20"), Expected([](const Fixture& r) {
              return r.params.pose.empty() || r.params.steps > 20;
            }));
  EXPECT_EQ(Ids("sampler LIKE 'euler%'"), Expected([](const Fixture& r) {
              return r.params.sampler.rfind("Euler", 0) == 0;  // LIKE ignores ASCII case
            }));
  EXPECT_EQ(Ids("score IS NULL"), Expected([](const Fixture& r) { return !r.score; }));
  EXPECT_EQ(Ids("face_found = false"), Expected([](const Fixture& r) { return !r.score; }));
  EXPECT_EQ(Ids("face_found = true AND score > 0.6"),
            Expected([](const Fixture& r) { return r.score && *r.score > 0.6; }));
  EXPECT_EQ(Ids("lora_step >= 1600"), Expected([](const Fixture& r) {
              const std::string& ref = r.params.loras[0].ref;
              return ref.rfind("train:", 0) == 0 && std::stoi(ref.substr(ref.find('@') + 1)) >= 1600;
            }));
  EXPECT_EQ(Ids("lora_hash = '" + Sha256Hex("lora") + "'"), Expected([](const Fixture& r) {
              return r.params.loras[0].ref == "sha256:" + Sha256Hex("lora");
            }));
  EXPECT_EQ(Ids("size = '512x768' AND clip_skip = 2"),
            Expected([](const Fixture& r) { return r.params.clip_skip == 2; }));
  EXPECT_EQ(Ids("agent = 'agent-odd' AND seconds < 6"), Expected([](const Fixture& r) {
              return r.params.seed % 2 == 1 && r.params.seed - 100 + 2.0 < 6;
            }));
  EXPECT_EQ(Ids("identity = 'ana' AND status = 'queued' AND sweep_name = 'a'").size(), 11u);
  EXPECT_EQ(Ids("created >= '2026-12-01' AND rendered > '2026-11-30T23:59:59Z'").size(), 11u);
  EXPECT_TRUE(Ids("created < '2026-12-01'").empty());
}

TEST_F(QueryStoreTest, ParamsPathsReadTheCanonicalJson) {
  EXPECT_EQ(Ids("params.seed = 103"), Expected([](const Fixture& r) { return r.params.seed == 103; }));
  EXPECT_EQ(Ids("params.loras[0].weight < 1"),
            Expected([](const Fixture& r) { return r.params.loras[0].weight < 1; }));
  EXPECT_EQ(Ids("params.rng = 'cpu' AND engine = 'studiofarm-sd/1'").size(), 11u);
  EXPECT_TRUE(Ids("params.no.such.key = 1").empty());
}

TEST_F(QueryStoreTest, OrderByScoreDescendingPutsUnscoredLast) {
  RenderQuery query;
  query.sweep_ids = {sweep_a_};
  query.order_by = "score desc";
  query.columns = {"id", "score"};
  const store::SelectResult result = Run(query);
  ASSERT_EQ(result.rows.size(), renders_.size());
  std::vector<Fixture> expected = renders_;
  std::stable_sort(expected.begin(), expected.end(), [](const Fixture& x, const Fixture& y) {
    if (x.score.has_value() != y.score.has_value()) return x.score.has_value();
    return x.score && *x.score > *y.score;
  });
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    // Equal scores come by result id, i.e. the order the fixture inserted them.
    EXPECT_EQ(std::get<std::int64_t>(result.rows[i][0]), expected[i].render_id);
  }
  EXPECT_TRUE(std::holds_alternative<std::monostate>(result.rows.back()[1]));

  query.limit = 3;
  query.offset = 1;
  const store::SelectResult page = Run(query);
  ASSERT_EQ(page.rows.size(), 3u);
  EXPECT_EQ(std::get<std::int64_t>(page.rows[0][0]), expected[1].render_id);
  EXPECT_EQ(std::get<std::int64_t>(page.rows[2][0]), expected[3].render_id);
}

TEST_F(QueryStoreTest, SweepFilterSelectsEachSweepsOwnRows) {
  RenderQuery query;
  query.columns = {"sweep", "id", "score"};
  query.sweep_ids = {sweep_b_};
  store::SelectResult b = Run(query);
  ASSERT_EQ(b.rows.size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(b.rows[0][1]), renders_[8].render_id);
  EXPECT_EQ(std::get<std::int64_t>(b.rows[0][0]), sweep_b_);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(b.rows[0][2]));  // b has no scores
  query.sweep_ids = {};
  EXPECT_EQ(Run(query).rows.size(), renders_.size() + 2);  // one row per sweep and render
  query.sweep_ids = {sweep_a_, sweep_b_};
  query.where = "id = " + std::to_string(renders_[9].render_id);
  EXPECT_EQ(Run(query).rows.size(), 2u);
}

TEST_F(QueryStoreTest, InjectionTextOnlyMatchesAsALiteral) {
  const std::int64_t renders = CountRenders();
  const std::vector<std::int64_t> injected = {renders_[10].render_id};
  EXPECT_EQ(Ids("sampler = \"x' OR 1=1 --\""), injected);
  EXPECT_EQ(Ids("sampler = 'x'' OR 1=1 --'"), injected);
  EXPECT_EQ(Ids("prompt = \"'; DROP TABLE renders; --\""), injected);
  EXPECT_EQ(Ids("prompt LIKE '%DROP TABLE%'"), injected);
  EXPECT_EQ(Ids("sampler IN ('x', 'x'' OR 1=1 --', 'Euler) OR (1=1')"), injected);
  EXPECT_TRUE(Ids("sampler = 'x'' OR ''1''=''1'").empty());
  EXPECT_TRUE(Ids("sampler = 'Euler a'' UNION SELECT name FROM sqlite_master --'").empty());
  EXPECT_TRUE(Ids("params.sampler = '\"Euler a\"'").empty());
  EXPECT_TRUE(Ids("prompt = 'studio portrait 1\\'").empty());
  EXPECT_EQ(Ids("prompt = 'studio portrait 1'"), (std::vector<std::int64_t>{renders_[1].render_id}));
  EXPECT_EQ(CountRenders(), renders);

  // What does not parse never reaches the database.
  RenderQuery query;
  query.where = "cfg = 1; DROP TABLE renders";
  EXPECT_FALSE(BuildRenderQuery(query).ok());
  query.where = "";
  query.order_by = "score; DROP TABLE renders";
  EXPECT_FALSE(BuildRenderQuery(query).ok());
  EXPECT_EQ(CountRenders(), renders);
}

TEST_F(QueryStoreTest, EveryCatalogueColumnSelects) {
  RenderQuery query;
  for (const ColumnInfo& column : RenderColumns()) query.columns.push_back(column.name);
  query.columns.push_back("params.stages");
  query.sweep_ids = {sweep_a_};
  query.where = "id = " + std::to_string(renders_[4].render_id);
  StatusOr<BuiltQuery> built = BuildRenderQuery(query);
  ASSERT_TRUE(built.ok()) << built.status().message();
  StatusOr<store::SelectResult> selected = store_->Select(built->sql, built->binds);
  ASSERT_TRUE(selected.ok()) << selected.status().ToString();
  const store::SelectResult& result = *selected;
  ASSERT_EQ(result.rows.size(), 1u);
  const nlohmann::ordered_json json = RowsToJson(*built, result);
  ASSERT_EQ(json.size(), 1u);
  const nlohmann::ordered_json& row = json[0];
  EXPECT_EQ(row["id"], renders_[4].render_id);
  EXPECT_EQ(row["sweep"], sweep_a_);
  EXPECT_EQ(row["sweep_name"], "a");
  EXPECT_EQ(row["sampler"], renders_[4].params.sampler);
  EXPECT_EQ(row["cfg"], 7.0);
  EXPECT_EQ(row["size"], "512x768");
  EXPECT_EQ(row["pose"], "side");
  EXPECT_EQ(row["lora"], "train:" + Sha256Hex("train") + "@1600");
  EXPECT_EQ(row["lora_hash"], Sha256Hex("train"));
  EXPECT_EQ(row["lora_step"], 1600);
  EXPECT_EQ(row["lora_weight"], 0.75);
  EXPECT_EQ(row["engine"], "studiofarm-sd/1");
  EXPECT_EQ(row["stages"], "[]");
  EXPECT_EQ(row["params.stages"], "[]");
  EXPECT_DOUBLE_EQ(row["score"].get<double>(), *renders_[4].score);
  EXPECT_EQ(row["faces"], 1);
  EXPECT_EQ(row["face_found"], true);
  EXPECT_EQ(row["identity"], "ana");
  EXPECT_EQ(row["status"], "queued");
  EXPECT_EQ(row["agent"], "agent-even");
  EXPECT_EQ(row["seconds"], 6.0);
  EXPECT_EQ(row["image_sha256"], Sha256Hex("png4"));
  EXPECT_TRUE(row["created"].get<std::string>().rfind("2026-12-01T00:00:", 0) == 0) << row["created"];
  EXPECT_TRUE(row["rendered"].is_string());
  EXPECT_TRUE(row["euclidean"].is_null());
  EXPECT_EQ(row.size(), RenderColumns().size() + 1);
}

TEST_F(QueryStoreTest, LimitsOfTheLanguageRunOnSqlite) {
  // The deepest nesting the parser takes, and a chain just under the length limit.
  std::string deep = std::string(kMaxNesting, '(') + "cfg >= 6" + std::string(kMaxNesting, ')');
  EXPECT_EQ(Ids(deep), Expected([](const Fixture& r) { return r.params.cfg >= 6; }));
  std::string nots;
  for (int i = 0; i < kMaxNesting; ++i) nots += "NOT ";
  EXPECT_EQ(Ids(nots + "cfg >= 6"), Expected([](const Fixture& r) { return r.params.cfg >= 6; }));
  // AND and OR alternating 64 levels deep (cfg >= 0 is true, seed = -1 false).
  auto alternating = [](int levels) {
    std::string where = "cfg >= 6";
    for (int i = 0; i < levels; ++i) {
      where = std::string(i % 2 ? "cfg >= 0 AND (" : "seed = -1 OR (") + where + ")";
    }
    return where;
  };
  EXPECT_EQ(Ids(alternating(kMaxNesting)),
            Expected([](const Fixture& r) { return r.params.cfg >= 6; }));
  EXPECT_EQ(Ids("NOT (" + alternating(kMaxNesting - 2) + ")"),
            Expected([](const Fixture& r) { return r.params.cfg < 6; }));
  std::string chain = "seed = 103";
  while (chain.size() + 13 <= kMaxExpressionBytes) chain += " OR seed = -1";
  EXPECT_EQ(Ids(chain), (std::vector<std::int64_t>{renders_[3].render_id}));
  std::string in = "seed IN (103";
  while (in.size() + 5 <= kMaxExpressionBytes) in += ", -1";
  EXPECT_EQ(Ids(in + ")"), (std::vector<std::int64_t>{renders_[3].render_id}));
}

// The ranking query of the benchmark walks render_results (score DESC) and stops at LIMIT
// instead of sorting every match (docs/BENCHMARKS.md).
TEST_F(QueryStoreTest, TopScoresWalkTheScoreIndex) {
  auto plan = [&](RenderQuery query) {
    StatusOr<BuiltQuery> built = BuildRenderQuery(query);
    EXPECT_TRUE(built.ok());
    auto result = store_->Select("EXPLAIN QUERY PLAN " + built->sql, built->binds);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    std::string text;
    if (result.ok()) {
      for (const auto& row : result->rows) text += std::get<std::string>(row.back()) + "\n";
    }
    return text;
  };
  RenderQuery query;
  query.where = "sampler = 'Euler a' AND cfg >= 6 AND pose IN ('p1', 'p2', 'p3')";
  query.order_by = "score desc";
  query.limit = 100;
  std::string text = plan(query);
  EXPECT_NE(text.find("render_results_score"), std::string::npos) << text;
  EXPECT_EQ(text.find("TEMP B-TREE"), std::string::npos) << text;

  query.sweep_ids = {sweep_a_};
  text = plan(query);
  EXPECT_NE(text.find("render_results_sweep_score"), std::string::npos) << text;
  EXPECT_EQ(text.find("TEMP B-TREE"), std::string::npos) << text;

  // One seed: its index finds the few matches; walking every score would read all rows.
  query.sweep_ids = {};
  query.where = "seed = 103 AND cfg >= 6";
  text = plan(query);
  EXPECT_NE(text.find("renders_seed"), std::string::npos) << text;
  // The results are the same either way.
  EXPECT_EQ(Ids("seed = 103"), Expected([](const Fixture& r) { return r.params.seed == 103; }));
}

}  // namespace
}  // namespace farm::query
