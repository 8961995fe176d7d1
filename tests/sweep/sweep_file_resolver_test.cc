// FileSpecResolver on real temporary files: globs, models:/ paths, given hashes and
// the NotFound messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/sweep/file_resolver.h"
#include "farm/sweep/model_index.h"

namespace farm::sweep {
namespace {

namespace fs = std::filesystem;

class FileResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("sweep_resolver_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "specs" / "photos");
    fs::create_directories(root_ / "models" / "sd15");
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& relative, const std::string& bytes) {
    std::ofstream(root_ / relative, std::ios::binary) << bytes;
  }
  FileSpecResolver Resolver() {
    return FileSpecResolver((root_ / "specs").string(), (root_ / "models").string());
  }

  fs::path root_;
};

TEST_F(FileResolverTest, PhotoGlobDigestsMatchedFilesOnly) {
  Write("specs/photos/a.jpg", "photo a");
  Write("specs/photos/b.jpg", "photo b");
  Write("specs/photos/notes.txt", "not a photo");
  FileSpecResolver resolver = Resolver();
  auto digest = resolver.ResolvePhotoSet({"photos/*.jpg"});
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(*digest, PhotoSetDigest({Sha256Hex("photo a"), Sha256Hex("photo b")}));
  // Overlapping globs count each file once.
  auto again = resolver.ResolvePhotoSet({"photos/a.jpg", "photos/*.jpg"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *digest);
}

TEST_F(FileResolverTest, PhotosForPrepareJobsAreModelsRelativeOrAbsolute) {
  fs::create_directories(root_ / "models" / "ids" / "ana");
  Write("models/ids/ana/a.jpg", "photo a");
  Write("models/ids/ana/b.jpg", "photo b");
  Write("specs/photos/c.jpg", "photo c");
  FileSpecResolver resolver = Resolver();
  auto photos = resolver.ResolvePhotos({"models:/ids/ana/*.jpg", "photos/c.jpg", "models:/ids/ana/a.jpg"});
  ASSERT_TRUE(photos.ok()) << photos.status().message();
  ASSERT_EQ(photos->size(), 3u);  // a.jpg once
  std::map<std::string, std::string> by_hash;
  for (const PreparePhoto& p : *photos) by_hash[p.sha256] = p.path;
  EXPECT_EQ(by_hash[Sha256Hex("photo a")], "ids/ana/a.jpg");
  EXPECT_EQ(by_hash[Sha256Hex("photo b")], "ids/ana/b.jpg");
  EXPECT_EQ(by_hash[Sha256Hex("photo c")], (root_ / "specs" / "photos" / "c.jpg").string());
  EXPECT_TRUE(std::is_sorted(photos->begin(), photos->end(),
                             [](const PreparePhoto& a, const PreparePhoto& b) { return a.sha256 < b.sha256; }));
  EXPECT_EQ(resolver.ResolvePhotos({"models:/ids/none/*.jpg"}).status().code(), StatusCode::kNotFound);
}

TEST_F(FileResolverTest, NoMatchIsNotFoundNamingTheGlob) {
  FileSpecResolver resolver = Resolver();
  auto digest = resolver.ResolvePhotoSet({"photos/*.png"});
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("no photos match photos/*.png"), std::string::npos)
      << digest.status().message();
  EXPECT_NE(digest.status().message().find((root_ / "specs" / "photos").string()),
            std::string::npos);
}

TEST_F(FileResolverTest, FolderListsMatchingFilesBelowItWithTheirHashes) {
  fs::create_directories(root_ / "models" / "embeddings" / "people");
  Write("models/embeddings/b.safetensors", "b");
  Write("models/embeddings/people/a.SafeTensors", "a");
  Write("models/embeddings/b.preview.png", "png");
  FileSpecResolver resolver = Resolver();
  auto files = resolver.ResolveFolder("models:/embeddings", ".safetensors");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, "models:/embeddings/b.safetensors");
  EXPECT_EQ((*files)[0].sha256, Sha256Hex("b"));
  EXPECT_EQ((*files)[1].path, "models:/embeddings/people/a.SafeTensors");
  EXPECT_EQ((*files)[1].sha256, Sha256Hex("a"));
  auto missing = resolver.ResolveFolder("models:/nothing", ".safetensors");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("models:/nothing"), std::string::npos);
  fs::create_directories(root_ / "specs" / "empty");
  auto empty = resolver.ResolveFolder("empty", ".safetensors");
  EXPECT_EQ(empty.status().code(), StatusCode::kNotFound);
  EXPECT_NE(empty.status().message().find("holds no *.safetensors file"), std::string::npos);
}

TEST_F(FileResolverTest, GivenSha256IsUsedWithoutTheFile) {
  FileSpecResolver resolver = Resolver();
  const std::string hash(64, 'b');
  auto resolved = resolver.ResolveModel({"missing/model.safetensors", hash});
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, hash);
}

TEST_F(FileResolverTest, ModelsPrefixIsUnderTheModelsDir) {
  Write("models/sd15/tiny.safetensors", "weights");
  FileSpecResolver resolver = Resolver();
  auto resolved = resolver.ResolveModel({"models:/sd15/tiny.safetensors", ""});
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, Sha256Hex("weights"));
  auto path = resolver.ResolvePath("models:/sd15/tiny.safetensors");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, (root_ / "models" / "sd15" / "tiny.safetensors").string());
}

TEST_F(FileResolverTest, ModelsNameResolvesThroughTheModelsIndex) {
  Write("models/sd15/tiny.safetensors", "weights");
  ModelEntry entry;
  entry.name = "tiny";
  entry.path = "sd15/tiny.safetensors";
  entry.kind = "sd15";
  ASSERT_TRUE(WriteModelIndex((root_ / "models").string(), {entry}).ok());
  FileSpecResolver resolver = Resolver();
  auto path = resolver.ResolvePath("models:tiny");
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_EQ(*path, (root_ / "models" / "sd15" / "tiny.safetensors").string());
  auto resolved = resolver.ResolveModel({"models:tiny", ""});
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, Sha256Hex("weights"));
  auto unknown = resolver.ResolvePath("models:other");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("no model named 'other'"), std::string::npos)
      << unknown.status().message();
  EXPECT_FALSE(FileSpecResolver("", "").ResolvePath("models:tiny").ok());
}

TEST_F(FileResolverTest, RelativePathsAreRelativeToTheSpec) {
  Write("models/sd15/tiny.safetensors", "weights");
  FileSpecResolver resolver = Resolver();
  auto resolved = resolver.ResolveModel({"../models/sd15/tiny.safetensors", ""});
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, Sha256Hex("weights"));
  auto absolute = resolver.ResolveModel({(root_ / "models/sd15/tiny.safetensors").string(), ""});
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(*absolute, Sha256Hex("weights"));
}

TEST_F(FileResolverTest, MissingModelIsNotFoundNamingThePath) {
  FileSpecResolver resolver = Resolver();
  auto resolved = resolver.ResolveModel({"models:/sd15/none.safetensors", ""});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kNotFound);
  EXPECT_NE(resolved.status().message().find("models:/sd15/none.safetensors"), std::string::npos);
  EXPECT_NE(resolved.status().message().find((root_ / "models/sd15/none.safetensors").string()),
            std::string::npos)
      << resolved.status().message();
}

TEST_F(FileResolverTest, ModelsPrefixWithoutModelsDir) {
  FileSpecResolver resolver((root_ / "specs").string(), "");
  auto resolved = resolver.ResolvePhotoSet({"models:/face-api/demo/*.jpg"});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kNotFound);
  EXPECT_NE(resolved.status().message().find("no models directory"), std::string::npos);
}

}  // namespace
}  // namespace farm::sweep
