// 0009_renders_slim.sql on a database that holds rows: every render and link survives,
// prompts read from params_json, queries keep their indexes, new inserts dedup against
// the migrated rows. 0012_prompt_columns.sql on one at schema 11: every row and its
// params_json survive, the prompt columns are gone, the catalogue's prompt filter works.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "farm/query/render_query.h"
#include "farm/schemas/migrations.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/render_sql.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::HasSubstr;
using testing_util::CreateDatabaseAtVersion;
using testing_util::MigrationVersion;
using testing_util::OldRenderInsertSql;
using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::RenderInsertSqlAt;
using testing_util::SampleRender;
using testing_util::TempDir;

// Every stored renders column but the prompts, one line per row in id order.
constexpr char kRenderColumnsDump[] =
    "SELECT group_concat(line, char(10)) FROM (SELECT quote(id) || '|' || "
    "quote(param_hash) || '|' || quote(params_json) || '|' || quote(job_id) || '|' || "
    "quote(seed) || '|' || quote(sampler) || '|' || quote(scheduler) || '|' || "
    "quote(steps) || '|' || quote(cfg) || '|' || quote(clip_skip) || '|' || quote(width) "
    "|| '|' || quote(height) || '|' || quote(pose) || '|' || quote(tone) || '|' || "
    "quote(denoise) || '|' || quote(lora_ref) || '|' || quote(lora_weight) || '|' || "
    "quote(checkpoint_sha256) || '|' || quote(artifact_id) || '|' || quote(rendered_at) "
    "|| '|' || quote(created_at) || '|' || quote(faces_artifact_id) || '|' || "
    "quote(record_artifact_id) AS line FROM renders ORDER BY id)";

std::string Text(const SqlValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  return "NULL";
}

// A database at the schema before one migration, with rows written by raw SQL as the
// older store wrote them; the store opened on it applies the rest.
class MigrationFixture : public ::testing::Test {
 protected:
  // path_ at the schema before the migration named `name` (version_ is that migration's).
  void CreateBefore(const char* name, const char* file) {
    version_ = MigrationVersion(name);
    ASSERT_GT(version_, 1) << "no migration named " << name;
    path_ = dir_.File(file);
    CreateDatabaseAtVersion(path_, version_ - 1);
  }
  // The renders as stored before the migration, to compare with after.
  void RememberRenders() {
    before_ = RawSql(path_, kRenderColumnsDump);
    ASSERT_FALSE(before_.empty());
  }
  // Opens the store (migrating) and checks that the migration named `name` ran from
  // version_ - 1.
  void OpenAndMigrate(const char* name) {
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
    EXPECT_EQ(store_->migration_at_open().from_version, version_ - 1);
    EXPECT_THAT(store_->migration_at_open().applied,
                ::testing::Contains(::testing::EndsWith(std::string("_") + name)));
  }

  // Every stored column as it was, params_json byte for byte, and each render (ids from
  // 1, as params_) read back with its hash and prompts.
  void ExpectRendersAsStored() {
    EXPECT_EQ(RawSql(path_, kRenderColumnsDump), before_);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto render = store_->GetRender(static_cast<std::int64_t>(i) + 1);
      ASSERT_TRUE(render.ok()) << render.status().ToString();
      auto json = ToCanonicalJson(params_[i]);
      ASSERT_TRUE(json.ok());
      EXPECT_EQ(render->params_json, *json);
      EXPECT_EQ(render->param_hash, Sha256Hex(*json));
      EXPECT_EQ(render->params.prompt, params_[i].prompt);
      EXPECT_EQ(render->params.negative_prompt, params_[i].negative_prompt);
    }
  }

  StatusOr<SelectResult> Select(const std::string& sql, std::vector<SqlValue> binds = {}) {
    return store_->Select(sql, binds);
  }
  std::string Plan(const std::string& sql, std::vector<SqlValue> binds) {
    auto rows = store_->Select("EXPLAIN QUERY PLAN " + sql, binds);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::string text;
    if (rows.ok()) {
      for (const auto& row : rows->rows) text += Text(row.back()) + "\n";
    }
    return text;
  }

  TempDir dir_;
  std::string path_;
  int version_ = 0;
  std::vector<RenderParams> params_;
  std::string before_;
  std::unique_ptr<Store> store_;
};

class StoreMigrationTest : public MigrationFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CreateBefore("renders_slim", "old.db"));
    // Two sweeps: renders 1-3 in sweep 1 (render 2 rendered, render 3 with a pose and a
    // quote in its prompt), render 2 shared with sweep 2. Render 3's link in sweep 2 has no
    // render_results row, as no store wrote it, to see that the migration gives it one.
    params_ = {SampleRender(1), SampleRender(2), SampleRender(3)};
    params_[2].prompt = "studio portrait of sks person's \"best\" side, cool light";
    params_[2].negative_prompt = "";
    std::string sql =
        "INSERT INTO sweeps (id, name, spec_yaml, spec_sha256, created_at, updated_at) VALUES "
        "(1, 'one', 'name: one', printf('%064d', 1), 1, 1), "
        "(2, 'two', 'name: two', printf('%064d', 2), 1, 1);"
        "INSERT INTO artifacts (id, sha256, size, path, media_type, created_at) VALUES "
        "(1, '" +
        Sha256Hex("png-2") +
        "', 5, 'png/2.png', 'image/png', 1);"
        "INSERT INTO jobs (id, sweep_id, kind, param_hash, params_json, state, created_at, "
        "updated_at) VALUES (1, 1, 'render', printf('%064d', 11), '{}', 'succeeded', 1, 1);";
    sql += OldRenderInsertSql(1, params_[0]);
    sql += OldRenderInsertSql(2, params_[1], /*job_id=*/1, /*artifact_id=*/1);
    sql += OldRenderInsertSql(3, params_[2]);
    sql +=
        "INSERT INTO sweep_renders (sweep_id, render_id) VALUES (1, 1), (1, 2), (1, 3), (2, 2), "
        "(2, 3);"
        "INSERT INTO render_results (sweep_id, render_id, job_id, artifact_id, image_sha256, "
        "rendered_at, score, faces_found, created_at) VALUES "
        "(1, 1, NULL, NULL, NULL, NULL, NULL, NULL, 1), "
        "(1, 2, 1, 1, '" +
        Sha256Hex("png-2") +
        "', 1700000000500, 0.61, 1, 1), "
        "(1, 3, NULL, NULL, NULL, NULL, NULL, NULL, 1), "
        "(2, 2, 1, 1, '" +
        Sha256Hex("png-2") + "', 1700000000500, 0.55, 1, 1);";
    RawSql(path_, sql);
    RememberRenders();
  }
};

TEST_F(StoreMigrationTest, RowsLinksAndPromptsSurvive) {
  ASSERT_NO_FATAL_FAILURE(OpenAndMigrate("renders_slim"));

  ExpectRendersAsStored();
  for (int i = 0; i < 3; ++i) {
    // The prompts are read from params_json (0012_prompt_columns.sql).
    auto prompts = Select(
        "SELECT json_extract(params_json, '$.prompt'), json_extract(params_json, "
        "'$.negative_prompt') FROM renders WHERE id = ?1",
        {SqlValue{std::int64_t{i + 1}}});
    ASSERT_TRUE(prompts.ok()) << prompts.status().ToString();
    ASSERT_EQ(prompts->rows.size(), 1u);
    EXPECT_EQ(Text(prompts->rows[0][0]), params_[i].prompt);
    EXPECT_EQ(Text(prompts->rows[0][1]), params_[i].negative_prompt);
  }
  // Stored once: in params_json, with no column of their own at the latest schema.
  EXPECT_EQ(RawSql(path_,
                   "SELECT count(*) FROM pragma_table_xinfo('renders') "
                   "WHERE name LIKE '%prompt%'"),
            "0");

  // Links: sweep_renders reads render_results; the link without a row got one.
  EXPECT_EQ(RawSql(path_, "SELECT type FROM sqlite_schema WHERE name = 'sweep_renders'"), "view");
  EXPECT_EQ(RawSql(path_,
                   "SELECT group_concat(sweep_id || '-' || render_id) FROM "
                   "(SELECT * FROM sweep_renders ORDER BY sweep_id, render_id)"),
            "1-1,1-2,1-3,2-2,2-3");
  auto shared = store_->GetRenderResult(2, 2);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_DOUBLE_EQ(shared->score.value_or(-1), 0.55);
  EXPECT_EQ(shared->artifact_id, 1);
  auto backfilled = store_->GetRenderResult(2, 3);
  ASSERT_TRUE(backfilled.ok()) << backfilled.status().ToString();
  EXPECT_FALSE(backfilled->artifact_id.has_value());

  RenderFilter in_sweep;
  in_sweep.sweep_id = 1;
  auto listed = store_->ListRenders(in_sweep);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[2].params.prompt, params_[2].prompt);
}

TEST_F(StoreMigrationTest, QueriesUseTheGridAndSeedIndexes) {
  store_ = OpenOrDie(path_);
  ASSERT_NE(store_, nullptr);
  const std::string indexes =
      RawSql(path_,
             "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE type = "
             "'index' AND tbl_name = 'renders' AND name NOT LIKE 'sqlite_%' ORDER BY name)");
  EXPECT_EQ(indexes, "renders_artifact,renders_grid,renders_job,renders_seed");
  // 0013 narrowed the grid index to its two leading columns (cheaper inserts).
  EXPECT_EQ(RawSql(path_,
                   "SELECT group_concat(name) FROM "
                   "(SELECT name FROM pragma_index_info('renders_grid') ORDER BY seqno)"),
            "sampler,cfg");

  const std::string filter =
      "SELECT r.id FROM renders r WHERE r.sampler = ?1 AND r.cfg >= ?2 AND r.pose IN (?3, ?4) "
      "ORDER BY r.id";
  const std::vector<SqlValue> binds = {SqlValue{std::string("DPM++ 2M")}, SqlValue{6.0},
                                       SqlValue{std::string("three_quarter_left")},
                                       SqlValue{std::string("frontal")}};
  EXPECT_THAT(Plan(filter, binds), HasSubstr("renders_grid (sampler=? AND cfg>?)"));
  auto rows = Select(filter, binds);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->rows.size(), 1u);  // SampleRender(1): DPM++ 2M, cfg 6.5, three_quarter_left
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][0]), 1);

  const std::string by_seed = "SELECT id FROM renders WHERE seed = ?1";
  EXPECT_THAT(Plan(by_seed, {SqlValue{std::int64_t{1002}}}), HasSubstr("renders_seed"));
  auto seed = Select(by_seed, {SqlValue{std::int64_t{1002}}});
  ASSERT_TRUE(seed.ok());
  ASSERT_EQ(seed->rows.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(seed->rows[0][0]), 2);

  // Lookups by job use the indexes that hold only rows with a job.
  EXPECT_THAT(Plan("SELECT id FROM renders WHERE job_id = ?1", {SqlValue{std::int64_t{1}}}),
              HasSubstr("renders_job"));
  EXPECT_THAT(Plan("SELECT id FROM render_results WHERE job_id = ?1", {SqlValue{std::int64_t{1}}}),
              HasSubstr("render_results_job"));
  EXPECT_EQ(RawSql(path_,
                   "SELECT count(*) FROM render_results INDEXED BY render_results_job "
                   "WHERE job_id = 1"),
            "2");

  // A prompt filter reads params_json.
  auto quoted = Select(
      "SELECT rr.sweep_id, r.id FROM render_results rr JOIN renders r ON r.id = rr.render_id "
      "WHERE json_extract(r.params_json, '$.prompt') LIKE ?1 ORDER BY rr.sweep_id",
      {SqlValue{std::string("%person's \"best\"%")}});
  ASSERT_TRUE(quoted.ok()) << quoted.status().ToString();
  ASSERT_EQ(quoted->rows.size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(quoted->rows[1][1]), 3);
}

TEST_F(StoreMigrationTest, NewInsertsDedupAgainstMigratedRows) {
  store_ = OpenOrDie(path_);
  ASSERT_NE(store_, nullptr);
  NewRender again;
  again.params = params_[1];
  again.sweep_id = 2;
  NewRender fresh;
  fresh.params = SampleRender(4);
  fresh.sweep_id = 2;
  auto inserted = store_->InsertRenders({again, fresh});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  ASSERT_EQ(inserted->size(), 2u);
  EXPECT_EQ((*inserted)[0].id, 2);
  EXPECT_FALSE((*inserted)[0].created);
  EXPECT_TRUE((*inserted)[1].created);
  auto prompt = Select(std::string("SELECT json_extract(") + kRenderSharedSql +
                           ", '$.prompt') FROM renders r WHERE id = ?1",
                       {SqlValue{(*inserted)[1].id}});
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(Text(prompt->rows[0][0]), fresh.params.prompt);
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM sweep_renders WHERE sweep_id = 2"), "3");
}

// 0012_prompt_columns.sql: a database at schema 11 (prompts as virtual columns) with
// renders in two sweeps, one render's prompt with quotes and an empty negative prompt.
class PromptColumnsMigrationTest : public MigrationFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CreateBefore("prompt_columns", "schema11.db"));
    // The fixture is what it says: schema 11 has both prompts as virtual columns.
    ASSERT_EQ(RawSql(path_,
                     "SELECT group_concat(name || ':' || hidden) FROM "
                     "pragma_table_xinfo('renders') WHERE name LIKE '%prompt'"),
              "prompt:2,negative_prompt:2");
    params_ = {SampleRender(1), SampleRender(2), SampleRender(3), SampleRender(4)};
    params_[1].prompt = "studio portrait of sks person, cool blue light";
    params_[2].prompt = "sks person's \"golden\" hour portrait";
    params_[2].negative_prompt = "";
    params_[3].negative_prompt = "lowres, golden frame";
    std::string sql =
        "INSERT INTO sweeps (id, name, spec_yaml, spec_sha256, created_at, updated_at) VALUES "
        "(1, 'one', 'name: one', printf('%064d', 1), 1, 1), "
        "(2, 'two', 'name: two', printf('%064d', 2), 1, 1);";
    for (int i = 0; i < 4; ++i) sql += RenderInsertSqlAt(version_ - 1, i + 1, params_[i]);
    sql +=
        "INSERT INTO render_results (sweep_id, render_id, created_at) VALUES "
        "(1, 1, 1), (1, 2, 1), (1, 3, 1), (1, 4, 1), (2, 3, 1);";
    RawSql(path_, sql);
    RememberRenders();
  }

  // Render ids in sweep order and then id order, as the catalogue's query gives them.
  std::vector<std::int64_t> Ids(const std::string& where) {
    query::RenderQuery query;
    query.where = where;
    query.order_by = "sweep, id";
    auto built = query::BuildRenderQuery(query);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    if (!built.ok()) return {};
    auto rows = store_->Select(built->sql, built->binds);
    EXPECT_TRUE(rows.ok()) << where << ": " << rows.status().ToString();
    std::vector<std::int64_t> ids;
    if (rows.ok()) {
      for (const auto& row : rows->rows) ids.push_back(std::get<std::int64_t>(row[0]));
    }
    return ids;
  }
};

TEST_F(PromptColumnsMigrationTest, RowsSurviveAndThePromptColumnsAreGone) {
  ASSERT_NO_FATAL_FAILURE(OpenAndMigrate("prompt_columns"));
  EXPECT_EQ(store_->migration_at_open().to_version, LatestSchemaVersion());

  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders"), "4");
  ExpectRendersAsStored();

  // No prompt column, virtual or stored, and SQL that names one is refused.
  EXPECT_EQ(RawSql(path_,
                   "SELECT count(*) FROM pragma_table_xinfo('renders') "
                   "WHERE name LIKE '%prompt%'"),
            "0");
  auto named = store_->Select("SELECT prompt FROM renders", {});
  ASSERT_FALSE(named.ok());
  EXPECT_THAT(named.status().message(), HasSubstr("prompt"));

  // A render inserted after the migration dedups against the old rows and stores its
  // prompt once, with the members its sweep shares (0014_render_settings.sql).
  NewRender again;
  again.params = params_[2];
  NewRender fresh;
  fresh.params = SampleRender(5);
  fresh.params.prompt = "fresh golden prompt";
  auto inserted = store_->InsertRenders({again, fresh});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  ASSERT_EQ(inserted->size(), 2u);
  EXPECT_EQ((*inserted)[0].id, 3);
  EXPECT_FALSE((*inserted)[0].created);
  EXPECT_TRUE((*inserted)[1].created);
  EXPECT_EQ(RawSql(path_, std::string("SELECT json_extract(") + kRenderSharedSql +
                              ", '$.prompt') FROM renders r WHERE id = " +
                              std::to_string((*inserted)[1].id)),
            "fresh golden prompt");
}

TEST_F(PromptColumnsMigrationTest, CatalogueFiltersOnThePromptsAfterTheMigration) {
  store_ = OpenOrDie(path_);
  ASSERT_NE(store_, nullptr);
  // Render 3 is in both sweeps: one result row each.
  EXPECT_EQ(Ids("prompt LIKE '%golden%'"), (std::vector<std::int64_t>{1, 3, 4, 3}));
  EXPECT_EQ(Ids("prompt LIKE '%blue%' OR negative_prompt LIKE '%golden%'"),
            (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(Ids("prompt = 'sks person''s \"golden\" hour portrait' AND negative_prompt = ''"),
            (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(Ids("NOT prompt LIKE '%golden%'"), (std::vector<std::int64_t>{2}));

  // The prompts as output columns read the canonical record too.
  query::RenderQuery query;
  query.where = "id = 3 AND sweep = 2";
  query.columns = {"prompt", "negative_prompt"};
  auto built = query::BuildRenderQuery(query);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto rows = store_->Select(built->sql, built->binds);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->rows.size(), 1u);
  const auto json = query::RowsToJson(*built, *rows);
  EXPECT_EQ(json[0]["prompt"], params_[2].prompt);
  EXPECT_EQ(json[0]["negative_prompt"], "");
}

}  // namespace
}  // namespace farm::store
