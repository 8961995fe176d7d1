// Folder bundles (agent/worker folder_bundle.h): deterministic ustar bytes, a faithful
// round trip, and refusal of archives that are damaged or try to leave their folder.
#include "farm/agent/folder_bundle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "farmd_test_util.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using farmd::testing::TempDir;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(FolderBundleTest, RoundTripIsFaithfulAndBytesAreDeterministic) {
  TempDir dir;
  const fs::path a = dir.path() / "a";
  const std::string long_dir(120, 'd');  // needs the ustar prefix field
  Write(a / "manifest.json", "{}\n");
  Write(a / "images" / "000.png", std::string(1500, '\x89'));
  Write(a / "empty.txt", "");
  Write(a / long_dir / "x.bin", "long");
  auto bundle = BundleFolder(a.string());
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  EXPECT_EQ(bundle->size() % 512, 0u);

  // The same content written in another order, later: the same bytes.
  const fs::path b = dir.path() / "b";
  Write(b / long_dir / "x.bin", "long");
  Write(b / "empty.txt", "");
  Write(b / "images" / "000.png", std::string(1500, '\x89'));
  Write(b / "manifest.json", "{}\n");
  auto same = BundleFolder(b.string());
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *bundle);

  const fs::path out = dir.path() / "out";
  ASSERT_TRUE(UnbundleFolder(*bundle, out.string()).ok());
  EXPECT_EQ(ReadAll(out / "manifest.json"), "{}\n");
  EXPECT_EQ(ReadAll(out / "images" / "000.png"), std::string(1500, '\x89'));
  EXPECT_TRUE(fs::is_regular_file(out / "empty.txt"));
  EXPECT_EQ(ReadAll(out / long_dir / "x.bin"), "long");
  EXPECT_EQ(UnbundleFolder(*bundle, out.string()).code(), StatusCode::kAlreadyExists);
}

// A one-file archive whose entry is named `name` (checksum made valid).
std::string ArchiveNamed(const std::string& name) {
  TempDir dir;
  Write(dir.path() / "f", "data");
  std::string archive = *BundleFolder(dir.path().string());
  std::memset(archive.data(), 0, 100);
  std::memcpy(archive.data(), name.data(), name.size());
  std::uint64_t sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(archive[i]);
  std::snprintf(archive.data() + 148, 8, "%06o", static_cast<unsigned>(sum));
  archive[155] = ' ';
  return archive;
}

TEST(FolderBundleTest, RefusesUnsafeOrDamagedArchives) {
  TempDir dir;
  ASSERT_TRUE(UnbundleFolder(ArchiveNamed("ok"), (dir.path() / "ok").string()).ok());
  for (const std::string name : {"../escape", "/abs", "a/../../b", "a//b"}) {
    const Status status = UnbundleFolder(ArchiveNamed(name), (dir.path() / "x").string());
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << name;
    EXPECT_NE(status.message().find("unsafe path"), std::string::npos) << status.message();
    EXPECT_FALSE(fs::exists(dir.path() / "x"));
  }
  std::string archive = ArchiveNamed("f");
  archive[0] = 'g';  // checksum no longer matches
  EXPECT_EQ(UnbundleFolder(archive, (dir.path() / "y").string()).code(), StatusCode::kDataLoss);
  const std::string good = ArchiveNamed("f");
  EXPECT_EQ(UnbundleFolder(good.substr(0, 600), (dir.path() / "z").string()).code(),
            StatusCode::kDataLoss);  // truncated
  std::string link = ArchiveNamed("f");
  link[156] = '2';  // a symlink entry
  std::uint64_t sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(link[i]);
  std::snprintf(link.data() + 148, 8, "%06o", static_cast<unsigned>(sum));
  link[155] = ' ';
  EXPECT_EQ(UnbundleFolder(link, (dir.path() / "w").string()).code(), StatusCode::kDataLoss);
  // Nothing half-unpacked is left behind.
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".unpacking"), std::string::npos);
  }
}

}  // namespace
}  // namespace farm::agent
