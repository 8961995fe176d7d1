// Shared by the store tests: temporary directories, sample records, a fake clock and a
// raw sqlite3 helper for looking behind the store's back.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "farm/schemas/migrations.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace farm::store::testing_util {

// A fresh directory under testing::TempDir(), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "store_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Deterministic time: starts at 1'700'000'000'000 ms and advances 1 ms per reading.
inline StoreOptions FakeClockOptions() {
  StoreOptions options;
  auto now = std::make_shared<std::int64_t>(1'700'000'000'000);
  options.clock_ms = [now] { return (*now)++; };
  return options;
}

inline std::unique_ptr<Store> OpenOrDie(const std::string& path,
                                        OpenMode mode = OpenMode::kReadWrite,
                                        StoreOptions options = FakeClockOptions()) {
  auto store = Store::Open(path, mode, std::move(options));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// A render record; `i` varies the seed, sampler and pose.
inline RenderParams SampleRender(int i) {
  RenderParams p;
  p.prompt = "studio portrait of sks person, golden light";
  p.negative_prompt = "blurry";
  p.seed = 1000 + static_cast<std::uint64_t>(i);
  p.sampler = i % 2 == 0 ? "Euler" : "DPM++ 2M";
  p.scheduler = i % 2 == 0 ? "normal" : "karras";
  p.steps = 25;
  p.cfg = 6.5;
  p.clip_skip = 2;
  p.pose = i % 3 == 0 ? "" : "three_quarter_left";
  p.tone = "warm";
  p.checkpoint_sha256 = Sha256Hex("checkpoint");
  p.loras.push_back({"sha256:" + Sha256Hex("lora"), 0.75});
  return p;
}

// A render row to insert, without a precomputed canonical form.
inline NewRender Row(RenderParams params, std::int64_t sweep_id = 0) {
  NewRender row;
  row.params = std::move(params);
  row.sweep_id = sweep_id;
  return row;
}

// Runs SQL through a separate raw connection. Returns the first column of the first row
// as text ("" when none); fails the test on error.
inline std::string RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return result;
  }
  sqlite3_busy_timeout(db, 5000);
  auto callback = [](void* out, int columns, char** values, char**) {
    auto* text = static_cast<std::string*>(out);
    if (text->empty() && columns > 0 && values[0] != nullptr) *text = values[0];
    return 0;
  };
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), callback, &result, &error) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << (error ? error : "?");
    sqlite3_free(error);
  }
  sqlite3_close(db);
  return result;
}

// Creates `path` as a database at schema `version`: migrations 1..version applied and
// recorded as the store does, for tests that migrate an older database.
inline void CreateDatabaseAtVersion(const std::string& path, int version) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "cannot create " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return;
  }
  std::string sql =
      "PRAGMA foreign_keys = ON; BEGIN; CREATE TABLE schema_version (version INTEGER PRIMARY "
      "KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);";
  for (const Migration& migration : Migrations()) {
    if (migration.version > version) break;
    sql += std::string(migration.sql) + ";\nINSERT INTO schema_version VALUES (" +
           std::to_string(migration.version) + ", '" + std::string(migration.name) + "', 0);";
  }
  sql += "COMMIT;";
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    ADD_FAILURE() << "schema up to version " << version << ": " << (error ? error : "?");
    sqlite3_free(error);
  }
  sqlite3_close(db);
}

// `text` as a SQL string literal.
inline std::string SqlQuote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

// An INSERT of a render row with the stored columns of schema `version`: before
// 0009_renders_slim.sql (version 8 or less) the prompts were stored as columns too; from
// 9 on they are only in params_json (9 to 11: virtual columns, which take no value).
// `job_id` and `artifact_id` 0 leave the columns NULL.
inline std::string RenderInsertSqlAt(int version, std::int64_t id, const RenderParams& params,
                                     std::int64_t job_id = 0, std::int64_t artifact_id = 0) {
  auto json = ToCanonicalJson(params);
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  const std::string text = json.ok() ? *json : "{}";
  auto id_or_null = [](std::int64_t value) {
    return value == 0 ? std::string("NULL") : std::to_string(value);
  };
  auto text_or_null = [](const std::string& value) {
    return value.empty() ? std::string("NULL") : SqlQuote(value);
  };
  const bool lora = !params.loras.empty();
  const bool prompt_columns = version <= 8;
  return "INSERT INTO renders (id, param_hash, params_json, job_id, seed, sampler, scheduler, "
         "steps, cfg, clip_skip, width, height, pose, tone, denoise, lora_ref, lora_weight, "
         "checkpoint_sha256, " +
         std::string(prompt_columns ? "prompt, negative_prompt, " : "") +
         "artifact_id, rendered_at, created_at) VALUES (" +
         std::to_string(id) + ", " + SqlQuote(Sha256Hex(text)) + ", " + SqlQuote(text) + ", " +
         id_or_null(job_id) + ", " + std::to_string(static_cast<std::int64_t>(params.seed)) +
         ", " + SqlQuote(params.sampler) + ", " + SqlQuote(params.scheduler) + ", " +
         std::to_string(params.steps) + ", " + std::to_string(params.cfg) + ", " +
         std::to_string(params.clip_skip) + ", " + std::to_string(params.width) + ", " +
         std::to_string(params.height) + ", " + text_or_null(params.pose) + ", " +
         text_or_null(params.tone) + ", " + std::to_string(params.denoise) + ", " +
         (lora ? SqlQuote(params.loras[0].ref) : "NULL") + ", " +
         (lora ? std::to_string(params.loras[0].weight) : "NULL") + ", " +
         SqlQuote(params.checkpoint_sha256) + ", " +
         (prompt_columns
              ? SqlQuote(params.prompt) + ", " + SqlQuote(params.negative_prompt) + ", "
              : std::string()) +
         id_or_null(artifact_id) + ", " + (artifact_id == 0 ? "NULL" : "1700000000500") + ", " +
         std::to_string(1700000000000 + id) + ");";
}

// An INSERT of a render row as the store wrote it before 0009_renders_slim.sql (prompts
// stored as columns too), for databases made by CreateDatabaseAtVersion(path, 8 or less).
inline std::string OldRenderInsertSql(std::int64_t id, const RenderParams& params,
                                      std::int64_t job_id = 0, std::int64_t artifact_id = 0) {
  return RenderInsertSqlAt(8, id, params, job_id, artifact_id);
}

// The version of the migration named `name` (e.g. "renders_slim"); 0 when none is.
inline int MigrationVersion(std::string_view name) {
  for (const Migration& migration : Migrations()) {
    if (migration.name == name) return migration.version;
  }
  return 0;
}

}  // namespace farm::store::testing_util
