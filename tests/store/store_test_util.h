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

}  // namespace farm::store::testing_util
