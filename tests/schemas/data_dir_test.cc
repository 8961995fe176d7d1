// DataDir: an installed tree's share/studiofarm/<name> wins over the source folder compiled
// in; without one (a build tree) the compiled-in folder is used.
#include "farm/schemas/data_dir.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

namespace farm {
namespace {

namespace fs = std::filesystem;

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("data_dir_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(root_ / "bin");
    std::ofstream(root_ / "bin" / "farmctl") << "";
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(DataDirTest, AnInstalledFolderNextToBinWins) {
  fs::create_directories(root_ / "share" / "studiofarm" / "farm_configs");
  const std::string found =
      DataDir("farm_configs", "/src/farm_configs", (root_ / "bin" / "farmctl").string());
  EXPECT_EQ(found, (root_ / "share" / "studiofarm" / "farm_configs").string());
}

TEST_F(DataDirTest, ABuildTreeUsesTheCompiledInFolder) {
  EXPECT_EQ(DataDir("poses", "/src/experiments/poses", (root_ / "bin" / "farmctl").string()),
            "/src/experiments/poses");
  // A file of that name is not a folder.
  fs::create_directories(root_ / "share" / "studiofarm");
  std::ofstream(root_ / "share" / "studiofarm" / "poses") << "";
  EXPECT_EQ(DataDir("poses", "/src/experiments/poses", (root_ / "bin" / "farmctl").string()),
            "/src/experiments/poses");
}

TEST_F(DataDirTest, WithoutAnExecutablePathThisProcessIsUsed) {
  // The test binary lives in a build tree: nothing installed next to it.
  EXPECT_EQ(DataDir("no_such_folder_anywhere", "built-in"), "built-in");
}

}  // namespace
}  // namespace farm
