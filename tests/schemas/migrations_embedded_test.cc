#include "farm/schemas/migrations.h"

#include <gtest/gtest.h>

namespace farm {
namespace {

TEST(MigrationsEmbeddedTest, NumberedFromOneWithoutGaps) {
  const auto& migrations = Migrations();
  ASSERT_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(migrations[i].name.empty());
    // Every migration changes the schema (CREATE ... or ALTER TABLE ...).
    const std::string_view sql = migrations[i].sql;
    EXPECT_TRUE(sql.find("CREATE") != std::string_view::npos ||
                sql.find("ALTER TABLE") != std::string_view::npos)
        << migrations[i].name;
  }
  EXPECT_EQ(LatestSchemaVersion(), migrations.back().version);
}

TEST(MigrationsEmbeddedTest, RunnerOwnsTheVersionTable) {
  // schema_version is written by the store's migration runner in the same transaction;
  // a migration that touched it could make the recorded version lie.
  for (const Migration& m : Migrations()) {
    EXPECT_EQ(m.sql.find("schema_version"), std::string_view::npos) << m.name;
  }
}

}  // namespace
}  // namespace farm
