// A separate VAE through the whole farm: `farmctl run` of a spec with `vae:` on the tiny
// model with a real agent records the VAE's SHA-256 in every render's params and "VAE
// hash" in its PNG, decodes with that VAE (the pixels are not the checkpoint VAE's), and
// `farmctl reproduce` re-renders a farm render to the same pixels. `sweep validate` names a
// VAE whose tensors do not fit the checkpoint's before anything starts.
// Skips when farm-agent was built without the render commands.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
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
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FarmctlVaeRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliRun help = Shell(kAgent + " --help 2>&1");
    if (help.out.find("make-tiny-model") == std::string::npos ||
        help.out.find("render-params") == std::string::npos) {
      GTEST_SKIP() << "farm-agent was built without the render commands";
    }
    std::string pattern = ::testing::TempDir() + "farmctl_vae_run_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    models_ = dir_ + "/models";
    db_ = dir_ + "/state/farm.db";
    fs::create_directories(models_ + "/vae");
    const CliRun made = Shell(kAgent + " make-tiny-model " + Quote(models_ + "/tiny") + " --seed 1 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    checkpoint_ = ParseOrFail(made).value("checkpoint", "");
    // A PNG header is all the pre-flight reads of a photo; no score job decodes it.
    std::string png = "\x89PNG\r\n\x1a\n";
    png += std::string("\0\0\0\x0dIHDR\0\0\0\x40\0\0\0\x40\x08\x02\0\0\0", 21);
    std::ofstream(dir_ + "/me.png", std::ios::binary) << png;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // Two renders of the tiny model with `vae` (a models:/ path), no scoring.
  std::string WriteSpec(const std::string& vae) const {
    const std::string path = dir_ + "/spec.yaml";
    std::ofstream(path) << "name: vae\n"
                           "identity: {name: demo, photos: me.png, token: sks person}\n"
                           "checkpoint: {path: models:/tiny/tiny-sd15.safetensors}\n"
                           "vae: {path: " << vae << "}\n"
                           "render:\n"
                           "  prompt: \"photo of {token}\"\n"
                           "  size: 64x64\n  steps: 2\n  cfg: 7\n  sampler: Euler\n"
                           "  seeds: [1, 2]\n";
    return path;
  }

  CliRun Farmctl(const std::string& args) const {
    return Shell("STUDIOFARM_DB= STUDIOFARM_ENDPOINT= " + kFarmctl + " --models-dir " + Quote(models_) +
                 " --db " + Quote(db_) + " " + args + " 2>" + Quote(dir_ + "/stderr.log"));
  }
  std::string Stderr() const { return FileBytes(dir_ + "/stderr.log"); }

  std::string dir_, models_, db_, checkpoint_;
};

TEST_F(FarmctlVaeRunTest, RendersWithTheVaeRecordsItsHashAndReproduces) {
  const std::string vae = models_ + "/vae/tiny-vae.safetensors";
  ASSERT_EQ(farmctl_test::WriteVaeFromCheckpoint(checkpoint_, vae), "");
  auto vae_sha256 = farm::Sha256File(vae);
  ASSERT_TRUE(vae_sha256.ok()) << vae_sha256.status().ToString();

  const CliRun run = Farmctl("--json run " + Quote(WriteSpec("models:/vae/tiny-vae.safetensors")) + " --agents 1");
  ASSERT_EQ(run.exit_code, 0) << run.out << Stderr();
  const json out = ParseOrFail(run);
  EXPECT_EQ(out["counts"].value("succeeded", 0), 2) << out.dump(2);

  auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  farm::store::RenderFilter filter;
  filter.sweep_id = out["sweep_id"].get<std::int64_t>();
  auto renders = (*store)->ListRenders(filter);
  ASSERT_TRUE(renders.ok()) << renders.status().ToString();
  ASSERT_EQ(renders->size(), 2u);
  for (const farm::store::Render& render : *renders) {
    EXPECT_EQ(render.params.vae_sha256, *vae_sha256) << render.id;
    ASSERT_TRUE(render.artifact_id.has_value()) << render.id;
    auto artifact = (*store)->GetArtifact(*render.artifact_id);
    ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
    const std::string png = FileBytes(dir_ + "/state/artifacts/" + artifact->path);
    EXPECT_NE(png.find("VAE hash: " + vae_sha256->substr(0, 10)), std::string::npos) << artifact->path;
  }

  // The stored image was decoded by the file's VAE: the same params without it (the
  // checkpoint's own VAE) give other pixels.
  const farm::store::Render& first = renders->front();
  farm::RenderParams own_vae = first.params;
  own_vae.vae_sha256.clear();
  const std::string params_file = dir_ + "/own-vae.json";
  std::ofstream(params_file) << *farm::ToCanonicalJson(own_vae);
  const CliRun own = Shell(kAgent + " render-params " + Quote(params_file) + " -o " + Quote(dir_ + "/own-vae.png") +
                           " --models-dir " + Quote(models_) + " --json");
  ASSERT_EQ(own.exit_code, 0) << own.out;
  const CliRun again = Farmctl("--json reproduce " + std::to_string(first.id));
  ASSERT_EQ(again.exit_code, 0) << again.out << Stderr();
  const json reproduced = ParseOrFail(again);
  EXPECT_TRUE(reproduced.value("match", false)) << again.out;
  EXPECT_NE(ParseOrFail(own).value("pixel_sha256", ""), reproduced["stored"].value("pixel_sha256", ""));
}

TEST_F(FarmctlVaeRunTest, AVaeThatDoesNotFitTheCheckpointIsNamedBeforeAnythingStarts) {
  const std::string vae = models_ + "/vae/partial-vae.safetensors";
  ASSERT_EQ(farmctl_test::WriteVaeFromCheckpoint(checkpoint_, vae, {.drop = "decoder.conv_out.bias"}), "");
  const std::string spec = WriteSpec("models:/vae/partial-vae.safetensors");
  const CliRun validate = Farmctl("sweep validate " + Quote(spec));
  EXPECT_EQ(validate.exit_code, 1) << validate.out << Stderr();
  EXPECT_NE(Stderr().find("vae: " + vae + ": does not fit the VAE of the checkpoint"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("it lacks 'decoder.conv_out.bias'"), std::string::npos) << Stderr();

  const CliRun run = Farmctl("run " + Quote(spec) + " --agents 1");
  EXPECT_EQ(run.exit_code, 1) << run.out << Stderr();
  EXPECT_NE(Stderr().find("does not fit the VAE of the checkpoint"), std::string::npos) << Stderr();
  EXPECT_FALSE(fs::exists(dir_ + "/state/logs")) << "a farm was started for a bad input";
}

}  // namespace
