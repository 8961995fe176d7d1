#include "farm/agent/model_cache.h"

#include <gtest/gtest.h>

namespace farm::agent {
namespace {

std::function<StatusOr<CachedModel>()> Loader(int value, std::uint64_t cost, int* loads) {
  return [=]() -> StatusOr<CachedModel> {
    ++*loads;
    return CachedModel{std::make_shared<int>(value), cost};
  };
}

int ValueOf(const std::shared_ptr<void>& p) { return *static_cast<int*>(p.get()); }

TEST(ModelCacheTest, HitsDoNotReload) {
  ModelCache cache(100);
  int loads = 0;
  bool hit = true;
  auto first = cache.Get("a", Loader(1, 10, &loads), &hit);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(hit);
  auto second = cache.Get("a", Loader(2, 10, &loads), &hit);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(hit);
  EXPECT_EQ(ValueOf(*second), 1);
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(ModelCacheTest, EvictsLeastRecentlyUsedOverBudget) {
  ModelCache cache(25);
  int loads = 0;
  ASSERT_TRUE(cache.Get("a", Loader(1, 10, &loads)).ok());
  ASSERT_TRUE(cache.Get("b", Loader(2, 10, &loads)).ok());
  ASSERT_TRUE(cache.Get("a", Loader(1, 10, &loads)).ok());  // a is now most recent
  ASSERT_TRUE(cache.Get("c", Loader(3, 10, &loads)).ok());  // evicts b
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(cache.used_bytes(), 20u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  ASSERT_TRUE(cache.Get("b", Loader(2, 10, &loads)).ok());  // reloaded, evicts a
  EXPECT_EQ(loads, 4);
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"b", "c"}));
}

TEST(ModelCacheTest, OversizedEntryIsKeptAlone) {
  ModelCache cache(5);
  int loads = 0;
  ASSERT_TRUE(cache.Get("a", Loader(1, 3, &loads)).ok());
  auto big = cache.Get("big", Loader(9, 50, &loads));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(ValueOf(*big), 9);
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"big"}));
}

TEST(ModelCacheTest, EvictedEntryStaysAliveWhileHeld) {
  ModelCache cache(0);
  int loads = 0;
  auto held = cache.Get("a", Loader(7, 1, &loads));
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(cache.Get("b", Loader(8, 1, &loads)).ok());
  EXPECT_EQ(cache.keys(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ValueOf(*held), 7);
}

TEST(ModelCacheTest, LoadFailureIsReportedAndNotCached) {
  ModelCache cache(100);
  auto failed = cache.Get("a", []() -> StatusOr<CachedModel> { return NotFound("no such model"); });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kNotFound);
  EXPECT_NE(failed.status().message().find("'a'"), std::string::npos);
  EXPECT_TRUE(cache.keys().empty());
}

}  // namespace
}  // namespace farm::agent
