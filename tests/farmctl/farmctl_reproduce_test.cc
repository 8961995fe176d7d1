// farmctl reproduce on a tiny-model render, run as a user runs it: farm-agent make-tiny-model
// and render-params make a stored render (its rows inserted through the store), farmctl
// reproduce re-renders it and compares pixel hashes: equal -> exit 0; a different stored
// image -> exit 1 naming both hashes; a render without an image -> exit 1. Also checks that
// farm-agent pixel-hash agrees with render-params. Skips when farm-agent was built without
// the render commands (no libtorch pipeline).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"
#include "vae_file.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

using farmctl_test::Quote;
using farmctl_test::ParseOrFail;

class FarmctlReproduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliRun help = Shell(kAgent + " --help 2>&1");
    if (help.out.find("render-params") == std::string::npos ||
        help.out.find("pixel-hash") == std::string::npos ||
        help.out.find("make-tiny-model") == std::string::npos) {
      GTEST_SKIP() << "farm-agent was built without the render commands";
    }
    std::string pattern = ::testing::TempDir() + "farmctl_reproduce_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    models_ = dir_ + "/models";
    fs::create_directories(dir_ + "/artifacts/renders");

    const CliRun made = Shell(kAgent + " make-tiny-model " + Quote(models_) + " --seed 1 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    const json files = ParseOrFail(made);
    checkpoint_path_ = files.value("checkpoint", "");
    auto checkpoint = farm::Sha256File(checkpoint_path_);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
    checkpoint_sha256_ = *checkpoint;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  farm::RenderParams Params(std::uint64_t seed) const {
    farm::RenderParams p;
    p.prompt = "studio portrait photo";
    p.negative_prompt = "blurry";
    p.seed = seed;
    p.sampler = "Euler";
    p.scheduler = "normal";
    p.steps = 2;
    p.cfg = 7;
    p.width = 64;
    p.height = 64;
    p.checkpoint_sha256 = checkpoint_sha256_;
    return p;  // no pipeline stages
  }

  // farm-agent render-params of `params` into `png`; returns its pixel hash.
  std::string RenderTo(const farm::RenderParams& params, const std::string& png) {
    const std::string file = dir_ + "/params-" + std::to_string(params.seed) + ".json";
    std::ofstream(file) << *farm::ToCanonicalJson(params);
    const CliRun run = Shell(kAgent + " render-params " + Quote(file) + " -o " + Quote(png) +
                             " --models-dir " + Quote(models_) + " --json");
    EXPECT_EQ(run.exit_code, 0) << run.out;
    return ParseOrFail(run).value("pixel_sha256", "");
  }

  // A render row for `params` whose image artifact is artifacts/<relative> (none if empty).
  std::int64_t InsertRender(const farm::RenderParams& params, const std::string& relative) {
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return 0;
    farm::store::NewRender row;
    row.params = params;
    auto inserted = (*store)->InsertRenders({row});
    EXPECT_TRUE(inserted.ok()) << inserted.status().ToString();
    if (!inserted.ok()) return 0;
    const std::int64_t id = (*inserted)[0].id;
    if (relative.empty()) return id;
    const std::string path = dir_ + "/artifacts/" + relative;
    auto sha = farm::Sha256File(path);
    EXPECT_TRUE(sha.ok());
    auto artifact = (*store)->InsertArtifact(
        {*sha, static_cast<std::int64_t>(fs::file_size(path)), relative, "image/png"});
    EXPECT_TRUE(artifact.ok()) << artifact.status().ToString();
    EXPECT_TRUE((*store)->SetRenderArtifact(id, *artifact).ok());
    return id;
  }

  CliRun Reproduce(const std::string& args) {
    return Shell(kFarmctl + " reproduce " + args + " --db " + Quote(db_) + " --models-dir " +
                 Quote(models_) + " --agent " + Quote(kAgent) + " 2>&1");
  }

  std::string dir_, db_, models_, checkpoint_path_, checkpoint_sha256_;
};

TEST_F(FarmctlReproduceTest, MatchesItsOwnRenderAndCatchesADifferentImage) {
  const std::string stored = dir_ + "/artifacts/renders/r1.png";
  const std::string rendered_hash = RenderTo(Params(7), stored);
  ASSERT_EQ(rendered_hash.size(), 64u);

  // pixel-hash of the written PNG is the hash render-params printed.
  const CliRun hashed = Shell(kAgent + " pixel-hash " + Quote(stored) + " --json");
  ASSERT_EQ(hashed.exit_code, 0) << hashed.out;
  const json hash = ParseOrFail(hashed);
  EXPECT_EQ(hash.value("pixel_sha256", ""), rendered_hash);
  EXPECT_EQ(hash.value("width", 0), 64);

  const std::int64_t id = InsertRender(Params(7), "renders/r1.png");
  ASSERT_GT(id, 0);

  const CliRun same = Shell(kFarmctl + " reproduce " + std::to_string(id) + " --db " + Quote(db_) +
                            " --models-dir " + Quote(models_) + " --agent " + Quote(kAgent) + " --json");
  ASSERT_EQ(same.exit_code, 0) << same.out;
  const json answer = ParseOrFail(same);
  EXPECT_TRUE(answer.value("match", false));
  EXPECT_EQ(answer["stored"].value("pixel_sha256", ""), rendered_hash);
  EXPECT_EQ(answer["reproduced"].value("pixel_sha256", ""), rendered_hash);
  EXPECT_EQ(answer.value("param_hash", ""), *farm::ParamHash(Params(7)));

  // Another seed's image in place of the stored one: the pixels differ.
  const std::string other_hash = RenderTo(Params(8), dir_ + "/other.png");
  ASSERT_NE(other_hash, rendered_hash);
  fs::copy_file(dir_ + "/other.png", stored, fs::copy_options::overwrite_existing);
  const CliRun differs = Reproduce(std::to_string(id));
  EXPECT_EQ(differs.exit_code, 1) << differs.out;
  EXPECT_NE(differs.out.find("does NOT reproduce"), std::string::npos) << differs.out;
  EXPECT_NE(differs.out.find(rendered_hash), std::string::npos) << differs.out;
  EXPECT_NE(differs.out.find(other_hash), std::string::npos) << differs.out;
}

TEST_F(FarmctlReproduceTest, ARenderWithASeparateVaeReproducesWithThatVae) {
  fs::create_directories(models_ + "/vae");
  const std::string vae = models_ + "/vae/tiny-vae.safetensors";
  ASSERT_EQ(farmctl_test::WriteVaeFromCheckpoint(checkpoint_path_, vae), "");
  auto vae_sha256 = farm::Sha256File(vae);
  ASSERT_TRUE(vae_sha256.ok()) << vae_sha256.status().ToString();
  farm::RenderParams params = Params(7);
  params.vae_sha256 = *vae_sha256;
  ASSERT_NE(*farm::ParamHash(params), *farm::ParamHash(Params(7)));

  const std::string with_vae = RenderTo(params, dir_ + "/artifacts/renders/vae.png");
  ASSERT_EQ(with_vae.size(), 64u);
  // The file's VAE decoded this image, not the checkpoint's.
  EXPECT_NE(with_vae, RenderTo(Params(7), dir_ + "/own-vae.png"));
  const std::int64_t id = InsertRender(params, "renders/vae.png");
  ASSERT_GT(id, 0);

  const CliRun same = Reproduce(std::to_string(id) + " --json");
  ASSERT_EQ(same.exit_code, 0) << same.out;
  const json answer = ParseOrFail(same);
  EXPECT_TRUE(answer.value("match", false)) << same.out;
  EXPECT_EQ(answer["reproduced"].value("pixel_sha256", ""), with_vae);
  EXPECT_EQ(answer.value("param_hash", ""), *farm::ParamHash(params));

  // Without the VAE in the models folder it cannot be re-rendered, and says which file.
  fs::remove(vae);
  const CliRun missing = Reproduce(std::to_string(id));
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("VAE"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find(*vae_sha256), std::string::npos) << missing.out;
}

TEST_F(FarmctlReproduceTest, RefusesRendersWithoutAnImage) {
  const std::int64_t id = InsertRender(Params(9), "");
  ASSERT_GT(id, 0);
  const CliRun run = Reproduce(std::to_string(id));
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("no stored image"), std::string::npos) << run.out;

  // A stored image that is missing from the artifact root.
  const std::string png = dir_ + "/artifacts/renders/gone.png";
  std::ofstream(png) << "not checked before the file is found";
  const std::int64_t gone = InsertRender(Params(10), "renders/gone.png");
  fs::remove(png);
  const CliRun missing = Reproduce(std::to_string(gone));
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;

  EXPECT_EQ(Reproduce("").exit_code, 2);
  EXPECT_EQ(Reproduce("abc").exit_code, 2);
  EXPECT_EQ(Reproduce("999").exit_code, 1);  // unknown render
}

}  // namespace
