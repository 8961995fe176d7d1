// The README's `farm-agent render` options on a tiny model, run as a user runs them:
// --tokenizer (a checkpoint without tokenizer/ next to it), --lora PATH:WEIGHT, --mask
// (inpainting with a mask that keeps half the image) and --pipeline with pose and tone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "farm/sd/safetensors.h"
#include "reference_paths.h"
#include "shell_run.h"

namespace {
namespace fs = std::filesystem;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kAgent = FARM_AGENT_BINARY;

class AgentRenderCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(farm::sd::testing::ScratchDir() + "/render_cli");
    auto made = Shell(kAgent + " make-tiny-model " + Quote(*dir_ + "/model") + " --seed 4 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    tiny_ = new json(json::parse(made.out));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete tiny_;
  }

  static std::string Tiny(const char* key) { return (*tiny_)[key].get<std::string>(); }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }
  // A small plain render of the tiny model, with `extra` flags, to Path(out).
  static farmctl_test::CliRun Render(const std::string& extra, const std::string& out) {
    return Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) +
                 " --prompt 'studio portrait' --steps 3 --seed 7 --size 64x48 --threads 1 " + extra +
                 " -o " + Quote(Path(out)) + " 2>&1");
  }
  static std::string PixelHash(const std::string& png) {
    auto run = Shell(kAgent + " pixel-hash " + Quote(png) + " --json");
    EXPECT_EQ(run.exit_code, 0) << run.out;
    const json answer = json::parse(run.out, nullptr, false);
    return answer.is_object() ? answer.value("pixel_sha256", answer.value("pixel_hash", "")) : "";
  }

  static std::string* dir_;
  static json* tiny_;
};
std::string* AgentRenderCliTest::dir_ = nullptr;
json* AgentRenderCliTest::tiny_ = nullptr;

TEST_F(AgentRenderCliTest, TokenizerFolderIsFoundNextToTheCheckpointOrGivenWithTokenizer) {
  ASSERT_EQ(Render("", "next_to.png").exit_code, 0);
  // The same checkpoint in a folder without tokenizer/: the bundled CLIP vocabulary does not
  // fit the tiny text encoder, a clear error naming the flag ...
  fs::create_directories(Path("alone"));
  fs::copy_file(Tiny("checkpoint"), Path("alone/model.safetensors"), fs::copy_options::overwrite_existing);
  const std::string alone = kAgent + " render --checkpoint " + Quote(Path("alone/model.safetensors")) +
                            " --prompt 'studio portrait' --steps 3 --seed 7 --size 64x48 --threads 1 ";
  auto missing = Shell(alone + "-o " + Quote(Path("missing.png")) + " 2>&1");
  EXPECT_NE(missing.exit_code, 0) << missing.out;
  EXPECT_NE(missing.out.find("--tokenizer"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(Path("missing.png")));
  // ... and with --tokenizer the very same image.
  auto given = Shell(alone + "--tokenizer " + Quote(Tiny("tokenizer")) + " -o " + Quote(Path("given.png")) +
                     " 2>&1");
  ASSERT_EQ(given.exit_code, 0) << given.out;
  EXPECT_EQ(farmctl_test::FileBytes(Path("given.png")), farmctl_test::FileBytes(Path("next_to.png")));
}

TEST_F(AgentRenderCliTest, LoraChangesTheImageByItsWeightAndIsRecorded) {
  ASSERT_EQ(Render("", "plain.png").exit_code, 0);
  auto with = Render("--lora " + Quote(Tiny("lora") + ":0.8"), "lora.png");
  ASSERT_EQ(with.exit_code, 0) << with.out;
  auto stronger = Render("--lora " + Quote(Tiny("lora") + ":1.5"), "lora_strong.png");
  ASSERT_EQ(stronger.exit_code, 0) << stronger.out;
  EXPECT_NE(farmctl_test::FileBytes(Path("lora.png")), farmctl_test::FileBytes(Path("plain.png")));
  EXPECT_NE(farmctl_test::FileBytes(Path("lora.png")), farmctl_test::FileBytes(Path("lora_strong.png")));
  ASSERT_EQ(Render("--lora " + Quote(Tiny("lora") + ":0.8"), "lora_again.png").exit_code, 0);
  EXPECT_EQ(farmctl_test::FileBytes(Path("lora_again.png")), farmctl_test::FileBytes(Path("lora.png")));

  const json record = json::parse(farmctl_test::FileBytes(Path("lora.png.json")));
  ASSERT_EQ(record["loras"].size(), 1u) << record.dump();
  EXPECT_NE(record["loras"].dump().find("0.8"), std::string::npos) << record.dump();
  EXPECT_TRUE(json::parse(farmctl_test::FileBytes(Path("plain.png.json")))["loras"].empty());

  auto absent = Render("--lora " + Quote(Path("absent.safetensors") + ":0.5"), "absent.png");
  EXPECT_NE(absent.exit_code, 0) << absent.out;
  EXPECT_NE(absent.out.find("absent.safetensors"), std::string::npos) << absent.out;
}

TEST_F(AgentRenderCliTest, VaeFileReplacesTheCheckpointsVaeAndIsRecorded) {
  // The tiny checkpoint's VAE with a scaled decoder, as a VAE-only file and carried by a
  // second checkpoint next to the tokenizer.
  auto file = farm::sd::SafetensorsFile::Open(Tiny("checkpoint"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto raw = farm::sd::ReadSafetensors(Tiny("checkpoint"));
  ASSERT_TRUE(raw.ok());
  farm::sd::TensorMap vae, merged = *raw;
  const std::string prefix = "first_stage_model.";
  for (const auto& [key, tensor] : *raw) {
    if (!key.starts_with(prefix)) continue;
    merged[key] = key.find(".decoder.") != std::string::npos ? tensor * 1.25 : tensor;
    vae[key.substr(prefix.size())] = merged[key];
  }
  const std::string vae_path = Path("vae.safetensors");
  const std::string merged_path = (fs::path(Tiny("checkpoint")).parent_path() / "merged.safetensors").string();
  ASSERT_TRUE(farm::sd::WriteSafetensors(vae_path, vae).ok());
  ASSERT_TRUE(farm::sd::WriteSafetensors(merged_path, merged, (*file)->metadata()).ok());

  ASSERT_EQ(Render("", "vae_plain.png").exit_code, 0);
  auto with = Render("--vae " + Quote(vae_path), "vae_with.png");
  ASSERT_EQ(with.exit_code, 0) << with.out;
  auto carried = Shell(kAgent + " render --checkpoint " + Quote(merged_path) +
                       " --prompt 'studio portrait' --steps 3 --seed 7 --size 64x48 --threads 1 -o " +
                       Quote(Path("vae_carried.png")) + " 2>&1");
  ASSERT_EQ(carried.exit_code, 0) << carried.out;
  EXPECT_NE(PixelHash(Path("vae_with.png")), PixelHash(Path("vae_plain.png")));
  EXPECT_EQ(PixelHash(Path("vae_with.png")), PixelHash(Path("vae_carried.png")));
  EXPECT_EQ(json::parse(farmctl_test::FileBytes(Path("vae_with.png.json")))["vae"], vae_path);

  // The recipe render records the file's SHA-256 in its params and "VAE hash" in the PNG.
  const std::string source = FARM_SOURCE_DIR;
  const std::string tone = " --prompt 'portrait' --tone warm --tones-yaml " +
                           Quote(source + "/farm_configs/tones.yaml") +
                           " --size 64x48 --steps 2 --seed 3 --threads 1 --json -o ";
  auto recipe = Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) + " --vae " + Quote(vae_path) +
                      tone + Quote(Path("vae_recipe.png")));
  ASSERT_EQ(recipe.exit_code, 0) << recipe.out;
  const json record = json::parse(recipe.out, nullptr, false);
  ASSERT_TRUE(record.is_object()) << recipe.out;
  const std::string vae_sha256 = record["params"].value("vae", "");
  ASSERT_EQ(vae_sha256.size(), 64u) << recipe.out;
  EXPECT_NE(farmctl_test::FileBytes(Path("vae_recipe.png")).find("VAE hash: " + vae_sha256.substr(0, 10)),
            std::string::npos);
  auto recipe_plain = Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) + tone +
                            Quote(Path("vae_recipe_plain.png")));
  ASSERT_EQ(recipe_plain.exit_code, 0) << recipe_plain.out;
  EXPECT_FALSE(json::parse(recipe_plain.out, nullptr, false)["params"].contains("vae")) << recipe_plain.out;
  EXPECT_EQ(farmctl_test::FileBytes(Path("vae_recipe_plain.png")).find("VAE hash"), std::string::npos);

  auto absent = Render("--vae " + Quote(Path("absent_vae.safetensors")), "vae_absent.png");
  EXPECT_NE(absent.exit_code, 0) << absent.out;
  EXPECT_NE(absent.out.find("absent_vae.safetensors"), std::string::npos) << absent.out;
  fs::remove(merged_path);
}

TEST_F(AgentRenderCliTest, EmbeddingFilesAndFoldersAreUsedByNameAndRecorded) {
  // A 2-vector embedding of the tiny text encoder's width, as a file and in a folder.
  auto file = farm::sd::SafetensorsFile::Open(Tiny("checkpoint"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const farm::sd::TensorInfo* table =
      (*file)->Find("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight");
  ASSERT_NE(table, nullptr);
  at::Generator generator = at::detail::createCPUGenerator(9);
  fs::create_directories(Path("embeddings/sub"));
  const std::string path = Path("embeddings/sub/tineg.safetensors");
  ASSERT_TRUE(
      farm::sd::WriteSafetensors(path, {{"emb_params", at::randn({2, table->shape[1]}, generator) * 0.02}}).ok());

  ASSERT_EQ(Render("--negative 'blurry, tineg'", "ti_words.png").exit_code, 0);
  auto with_file = Render("--negative 'blurry, tineg' --embedding " + Quote(path), "ti_file.png");
  ASSERT_EQ(with_file.exit_code, 0) << with_file.out;
  auto with_dir = Render("--negative 'blurry, tineg' --embeddings " + Quote(Path("embeddings")), "ti_dir.png");
  ASSERT_EQ(with_dir.exit_code, 0) << with_dir.out;
  EXPECT_NE(PixelHash(Path("ti_file.png")), PixelHash(Path("ti_words.png")));
  EXPECT_EQ(PixelHash(Path("ti_file.png")), PixelHash(Path("ti_dir.png")));
  const json record = json::parse(farmctl_test::FileBytes(Path("ti_file.png.json")));
  EXPECT_EQ(record["embeddings"], json({{"tineg", path}}));
  EXPECT_EQ(record["embeddings_used"], json::array({"tineg"}));

  // The recipe render records the file's SHA-256 under its name and "TI hashes" in the PNG.
  const std::string source = FARM_SOURCE_DIR;
  auto recipe = Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) + " --embedding " + Quote(path) +
                      " --prompt 'portrait' --negative 'tineg' --tone warm --tones-yaml " +
                      Quote(source + "/farm_configs/tones.yaml") +
                      " --size 64x48 --steps 2 --seed 3 --threads 1 --json -o " + Quote(Path("ti_recipe.png")));
  ASSERT_EQ(recipe.exit_code, 0) << recipe.out;
  const json recipe_record = json::parse(recipe.out, nullptr, false);
  ASSERT_TRUE(recipe_record.is_object()) << recipe.out;
  const std::string sha256 = recipe_record["params"]["embeddings"].value("tineg", "");
  ASSERT_EQ(sha256.size(), 64u) << recipe.out;
  EXPECT_NE(farmctl_test::FileBytes(Path("ti_recipe.png")).find("TI hashes: \"tineg: " + sha256.substr(0, 12) + "\""),
            std::string::npos);

  // A pickle embedding and one of another width are refused, naming the file.
  std::ofstream(Path("old.pt"), std::ios::binary) << "\x80\x02}q\x00.";
  auto pickle = Render("--embedding " + Quote(Path("old.pt")), "ti_pickle.png");
  EXPECT_NE(pickle.exit_code, 0) << pickle.out;
  EXPECT_NE(pickle.out.find("old.pt"), std::string::npos) << pickle.out;
  EXPECT_NE(pickle.out.find("pickle"), std::string::npos) << pickle.out;
  ASSERT_TRUE(farm::sd::WriteSafetensors(Path("wide.safetensors"), {{"emb_params", at::zeros({1, 4096})}}).ok());
  auto wide = Render("--embedding " + Quote(Path("wide.safetensors")), "ti_wide.png");
  EXPECT_NE(wide.exit_code, 0) << wide.out;
  EXPECT_NE(wide.out.find("4096 wide"), std::string::npos) << wide.out;
}

// A grayscale PGM mask of 64x48: white (repaint) from column `from` on, black (keep) before.
std::string WriteMask(const std::string& path, int from) {
  std::string pixels;
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 64; ++x) pixels.push_back(static_cast<char>(x >= from ? 255 : 0));
  }
  std::ofstream(path, std::ios::binary) << "P5\n64 48\n255\n" << pixels;
  return path;
}

TEST_F(AgentRenderCliTest, MaskInpaintsOnlyWhereItIsWhite) {
  ASSERT_EQ(Render("", "init.png").exit_code, 0);
  const std::string init = "--init-image " + Quote(Path("init.png")) + " --strength 0.9 ";
  const std::string keep = WriteMask(Path("keep.pgm"), 64);
  const std::string half = WriteMask(Path("half.pgm"), 32);
  // Keeping everything: the seed does not matter.
  ASSERT_EQ(Render(init + "--mask " + Quote(keep), "keep_a.png").exit_code, 0);
  auto keep_b = Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) +
                      " --prompt 'studio portrait' --steps 3 --seed 8 --size 64x48 --threads 1 " + init +
                      "--mask " + Quote(keep) + " -o " + Quote(Path("keep_b.png")) + " 2>&1");
  ASSERT_EQ(keep_b.exit_code, 0) << keep_b.out;
  EXPECT_EQ(farmctl_test::FileBytes(Path("keep_a.png")), farmctl_test::FileBytes(Path("keep_b.png")));
  // Half repainted: a new image, other than plain img2img (which repaints everything).
  auto half_run = Render(init + "--mask " + Quote(half), "half.png");
  ASSERT_EQ(half_run.exit_code, 0) << half_run.out;
  ASSERT_EQ(Render(init, "img2img.png").exit_code, 0);
  EXPECT_NE(farmctl_test::FileBytes(Path("half.png")), farmctl_test::FileBytes(Path("keep_a.png")));
  EXPECT_NE(farmctl_test::FileBytes(Path("half.png")), farmctl_test::FileBytes(Path("img2img.png")));
  const json record = json::parse(farmctl_test::FileBytes(Path("half.png.json")));
  EXPECT_EQ(record["mask"], Path("half.pgm"));
  EXPECT_EQ(record["init_image"], Path("init.png"));

  auto no_init = Render("--mask " + Quote(half), "no_init.png");
  EXPECT_NE(no_init.exit_code, 0) << no_init.out;
  EXPECT_NE(no_init.out.find("init image"), std::string::npos) << no_init.out;
}

TEST_F(AgentRenderCliTest, PipelineRendersTheStudioRecipeWithPoseAndTone) {
  const std::string source = FARM_SOURCE_DIR;
  const std::string command =
      kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) +
      " --prompt 'portrait, {tone}' --pipeline studio --pose standing --pose-controlnet " +
      Quote(Tiny("controlnet")) + " --tone warm --size 64x96 --steps 2 --seed 3 --threads 1" +
      " --pipelines-yaml " + Quote(source + "/farm_configs/pipelines.yaml") + " --poses-dir " +
      Quote(source + "/experiments/poses") + " --tones-yaml " +
      Quote(source + "/farm_configs/tones.yaml") + " --json -o ";
  auto run = Shell(command + Quote(Path("portrait.png")));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json record = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(record.is_object()) << run.out;
  const json& params = record["params"];
  EXPECT_EQ(params["pose"], "standing") << run.out;
  EXPECT_EQ(params["tone"], "warm");
  const std::string prompt = params["prompt"].get<std::string>();
  EXPECT_EQ(prompt.find("{tone}"), std::string::npos) << prompt;
  EXPECT_GT(prompt.size(), std::string("portrait, ").size()) << prompt;
  ASSERT_EQ(params["controlnets"].size(), 1u) << run.out;
  EXPECT_EQ(params["controlnets"][0]["input"], "pose:standing");
  std::vector<std::string> stages;
  for (const json& stage : params["stages"]) stages.push_back(stage["kind"].get<std::string>());
  EXPECT_EQ(stages, (std::vector<std::string>{"detailer", "img2img", "detailer", "upscale", "tone"}));

  // A PNG with the generation parameters in a 'parameters' text chunk, upscaled 2x.
  const std::string png = farmctl_test::FileBytes(Path("portrait.png"));
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_NE(png.find("parameters"), std::string::npos);
  const auto be32 = [&png](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  EXPECT_EQ(be32(16), 128u);  // IHDR width
  EXPECT_EQ(be32(20), 192u);  // IHDR height

  // The same command, the same pixels.
  auto again = Shell(command + Quote(Path("portrait_again.png")));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  const std::string hash = PixelHash(Path("portrait.png"));
  EXPECT_FALSE(hash.empty());
  EXPECT_EQ(PixelHash(Path("portrait_again.png")), hash);

  auto unknown = Shell(kAgent + " render --checkpoint " + Quote(Tiny("checkpoint")) +
                       " --pipeline no-such-preset --pipelines-yaml " +
                       Quote(source + "/farm_configs/pipelines.yaml") + " --size 64x96 -o " +
                       Quote(Path("x.png")) + " 2>&1");
  EXPECT_NE(unknown.exit_code, 0) << unknown.out;
  EXPECT_NE(unknown.out.find("no-such-preset"), std::string::npos) << unknown.out;
}

}  // namespace
