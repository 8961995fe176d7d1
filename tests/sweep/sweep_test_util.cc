#include "sweep_test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "farm/schemas/sha256.h"

namespace farm::sweep::testing {

const char kSpecHeader[] =
    "name: t\n"
    "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
    "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n";

std::string SourceDir() {
  const char* dir = std::getenv("FARM_SOURCE_DIR");
  return dir == nullptr ? "" : dir;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

SpecPresets RepoPresets() {
  SpecPresets presets;
  const std::string dir = SourceDir() + "/farm_configs/";
  auto tones = ParseTonePresets(ReadFileOrDie(dir + "tones.yaml"), "tones.yaml");
  EXPECT_TRUE(tones.ok()) << tones.status().ToString();
  if (tones.ok()) presets.tones = *tones;
  auto pipelines = ParsePipelinePresets(ReadFileOrDie(dir + "pipelines.yaml"), "pipelines.yaml");
  EXPECT_TRUE(pipelines.ok()) << pipelines.status().ToString();
  if (pipelines.ok()) presets.pipelines = *pipelines;
  return presets;
}

StatusOr<std::string> FakeResolver::ResolveModel(const ModelRef& model) {
  ++model_calls;
  if (auto it = failures.find(model.path); it != failures.end()) return it->second;
  if (!model.sha256.empty()) return model.sha256;
  return Sha256Hex("model:" + model.path);
}

StatusOr<std::vector<FolderFile>> FakeResolver::ResolveFolder(const std::string& folder, const std::string&) {
  if (auto it = failures.find(folder); it != failures.end()) return it->second;
  auto listed = folders.find(folder);
  if (listed == folders.end()) return NotFound(folder + ": no such folder");
  std::vector<FolderFile> out;
  for (const std::string& name : listed->second) {
    const std::string path = folder + "/" + name;
    out.push_back({path, Sha256Hex("model:" + path)});
  }
  return out;
}

StatusOr<std::string> FakeResolver::ResolvePhotoSet(const std::vector<std::string>& globs) {
  ++photo_calls;
  std::string joined;
  for (const std::string& glob : globs) {
    if (auto it = failures.find(glob); it != failures.end()) return it->second;
    joined += glob + "\n";
  }
  return Sha256Hex("photos:" + joined);
}

StatusOr<std::vector<PreparePhoto>> FakeResolver::ResolvePhotos(const std::vector<std::string>& globs) {
  std::vector<PreparePhoto> photos;
  for (const std::string& glob : globs) {
    if (auto it = failures.find(glob); it != failures.end()) return it->second;
    std::string path = glob.starts_with("models:/") ? glob.substr(8) : glob;
    photos.push_back({path, Sha256Hex("photo:" + glob)});
  }
  return photos;
}

SweepSpec ParseOrFail(const std::string& yaml) {
  auto spec = ParseSweepSpec(yaml, "test.yaml", RepoPresets());
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : SweepSpec{};
}

std::vector<Diagnostic> Diagnose(const std::string& yaml) {
  SpecCheck check = CheckSweepSpec(yaml, "bad.yaml", RepoPresets());
  EXPECT_FALSE(check.spec.has_value()) << "the spec was accepted";
  return check.diagnostics;
}

}  // namespace farm::sweep::testing
