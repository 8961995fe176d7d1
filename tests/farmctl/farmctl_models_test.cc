// farmctl models add/list/show/verify/rm on small safetensors files the test writes (valid
// headers, zero-filled tensors): kind detection, refusals with their reasons, the index
// that skips rehashing unchanged files, verify catching a changed file, and a spec naming
// a model as models:NAME.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/sha256.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;

using Shape = std::vector<std::uint64_t>;
using Tensors = std::vector<std::pair<std::string, Shape>>;

// A safetensors file: F16 tensors back to back, zero-filled, and optional metadata.
std::string Safetensors(const Tensors& tensors, const json& metadata = json()) {
  json header = json::object();
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  std::uint64_t at = 0;
  for (const auto& [name, shape] : tensors) {
    std::uint64_t bytes = 2;
    for (std::uint64_t dim : shape) bytes *= dim;
    header[name] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {at, at + bytes}}};
    at += bytes;
  }
  const std::string text = header.dump();
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  return out + text + std::string(at, '\0');
}

const Tensors kSd15 = {{"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}},
                       {"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", {320, 768}},
                       {"first_stage_model.decoder.conv_in.weight", {4, 4, 1, 1}},
                       {"cond_stage_model.transformer.text_model.final_layer_norm.weight", {768}}};

class FarmctlModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_models_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    models_ = dir_ / "models";
    fs::create_directories(models_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string Write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
  }

  CliRun Models(const std::string& args, bool json_out = true) {
    return Shell("cd " + Quote(dir_.string()) + " && " + Quote(kFarmctl) + " --models-dir " +
                 Quote(models_.string()) + " models " + args + (json_out ? " --json" : " 2>&1"));
  }

  fs::path dir_;
  fs::path models_;
};

TEST_F(FarmctlModelsTest, DetectsEachKindHashesAndCopiesIn) {
  const std::vector<std::pair<std::string, Tensors>> files = {
      {"sd15", kSd15},
      {"sd15-inpainting",
       {{"model.diffusion_model.input_blocks.0.0.weight", {320, 9, 3, 3}},
        {"first_stage_model.decoder.conv_in.weight", {4, 4, 1, 1}}}},
      {"lora",
       {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", {4, 320}},
        {"lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", {3072, 4}}}},
      {"controlnet", {{"control_model.input_hint_block.0.weight", {16, 3, 3, 3}}}},
      {"vae", {{"encoder.down.0.block.0.conv1.weight", {128, 128, 3, 3}},
               {"decoder.conv_in.weight", {512, 4, 3, 3}}}},
      {"embedding", {{"emb_params", {2, 768}}}}};
  for (const auto& [kind, tensors] : files) {
    const std::string path = Write(dir_ / "in" / (kind + "_model.safetensors"), Safetensors(tensors));
    CliRun run = Models("add " + Quote(path) + " --as " + kind);
    ASSERT_EQ(run.exit_code, 0) << kind << ": " << run.out;
    const json answer = ParseOrFail(run);
    ASSERT_EQ(answer["added"].size(), 1u) << run.out;
    const json& entry = answer["added"][0];
    EXPECT_EQ(entry["kind"], kind) << run.out;
    EXPECT_EQ(entry["dtype"], "F16");
    EXPECT_EQ(entry["path"], kind + "/" + kind + "_model.safetensors");  // copied in under <kind>/
    auto sha = farm::Sha256File(path);
    ASSERT_TRUE(sha.ok());
    EXPECT_EQ(entry["sha256"], *sha);
    EXPECT_EQ(entry["autov2"], sha->substr(0, 10));
    EXPECT_EQ(entry["size"], fs::file_size(path));
    EXPECT_TRUE(fs::exists(models_ / entry["path"].get<std::string>()));
  }
  const json loras = ParseOrFail(Models("list --kind lora"));
  ASSERT_EQ(loras["models"].size(), 1u);
  EXPECT_EQ(loras["models"][0]["name"], "lora");
  EXPECT_EQ(ParseOrFail(Models("list"))["models"].size(), files.size());
  const json shown = ParseOrFail(Models("show sd15"));
  EXPECT_EQ(shown["model"]["kind"], "sd15");
  EXPECT_EQ(shown["exists"], true);
  EXPECT_EQ(shown["spec"], "models:sd15");
  CliRun table = Models("list", /*json_out=*/false);
  EXPECT_NE(table.out.find("sd15-inpainting"), std::string::npos) << table.out;
}

TEST_F(FarmctlModelsTest, RefusesWhatItCannotRenderWithAndSaysWhy) {
  std::string zip = "PK\x03\x04";
  zip += std::string(60, '\0');
  std::string pickle = "\x80\x02}q\x00.";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"old.ckpt", Safetensors(kSd15), "pickle checkpoint"},
      {"zipped.safetensors", zip, "pickle checkpoint"},
      {"pickled.safetensors", pickle, "pickle checkpoint"},
      {"sdxl.safetensors",
       Safetensors({{"conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", {768}}}),
       "this is an SDXL checkpoint; StudioFarm renders SD 1.5"},
      {"sdxl_ti.safetensors", Safetensors({{"clip_g", {2, 1280}}, {"clip_l", {2, 768}}}),
       "this is an SDXL textual-inversion embedding (clip_g and clip_l); StudioFarm renders SD 1.5"},
      {"sd2.safetensors",
       Safetensors({{"model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}},
                    {"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", {320, 1024}},
                    {"cond_stage_model.model.ln_final.weight", {1024}}}),
       "this is an SD 2.x checkpoint"},
      {"sd3.safetensors", Safetensors({{"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", {6, 2}}}),
       "this is an SD3 checkpoint"},
      {"flux.safetensors", Safetensors({{"double_blocks.0.img_attn.qkv.weight", {6, 2}}}),
       "this is a Flux checkpoint"},
      {"vpred.safetensors", Safetensors(kSd15, {{"modelspec.prediction_type", "v"}}),
       "a v-prediction model"},
      {"vkey.safetensors", Safetensors([] { Tensors t = kSd15; t.push_back({"v_pred", {}}); return t; }()),
       "a v-prediction model"},
      {"ia3.safetensors",
       Safetensors({{"lora_unet_down_blocks_0_attentions_0_proj_in.weight", {320}},
                    {"lora_unet_down_blocks_0_attentions_0_proj_in.on_input", {}}}),
       "this is a (IA)^3 (LyCORIS) file; StudioFarm applies LoRA and LoCon"},
      {"dora.safetensors",
       Safetensors({{"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", {4, 320}},
                    {"unet.down_blocks.0.attentions.0.proj_in.lora_magnitude_vector", {320}}}),
       "this is a DoRA file"},
      {"cut.safetensors", Safetensors(kSd15).substr(0, 300), "truncated"},
      {"garbage.safetensors", std::string("\x10\0\0\0\0\0\0\0not json at all!", 24), "not valid JSON"}};
  for (const auto& [name, bytes, reason] : cases) {
    const std::string path = Write(dir_ / "in" / name, bytes);
    CliRun run = Models("add " + Quote(path));
    EXPECT_EQ(run.exit_code, 1) << name << ": " << run.out;
    const json answer = ParseOrFail(run);
    EXPECT_EQ(answer["ok"], false);
    ASSERT_EQ(answer["refused"].size(), 1u) << run.out;
    EXPECT_NE(answer["refused"][0]["reason"].get<std::string>().find(reason), std::string::npos)
        << name << ": " << run.out;
    CliRun text = Models("add " + Quote(path), /*json_out=*/false);
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.out.find(reason), std::string::npos) << text.out;
  }
  EXPECT_TRUE(ParseOrFail(Models("list"))["models"].empty()) << "nothing refused is indexed";
  // A folder: the good file is added, the refused ones reported, exit 1.
  Write(dir_ / "in" / "good.safetensors", Safetensors(kSd15));
  CliRun folder = Models("add " + Quote((dir_ / "in").string()));
  EXPECT_EQ(folder.exit_code, 1) << folder.out;
  const json answer = ParseOrFail(folder);
  ASSERT_EQ(answer["added"].size(), 1u) << folder.out;
  EXPECT_EQ(answer["added"][0]["name"], "good");
  EXPECT_EQ(answer["refused"].size(), cases.size()) << folder.out;
}

TEST_F(FarmctlModelsTest, DiffusersPeftAndLycorisLorasAreLoras) {
  const std::vector<std::pair<std::string, Tensors>> files = {
      {"peft", {{"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", {4, 320}},
                {"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight", {3072, 4}}}},
      {"diffusers_old", {{"unet.down_blocks.0.attentions.0.proj_in.lora.down.weight", {4, 320}},
                         {"text_encoder.text_model.encoder.layers.0.self_attn.q_proj"
                          ".lora_linear_layer.up.weight", {768, 4}}}},
      {"attn_procs", {{"down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor"
                       ".to_q_lora.down.weight", {4, 320}}}},
      {"locon", {{"lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight", {4, 320, 3, 3}},
                 {"lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight", {320, 4, 1, 1}}}},
      {"loha", {{"lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a", {320, 4}},
                {"lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_b", {4, 320}},
                {"lora_unet_down_blocks_0_attentions_0_proj_in.alpha", {}}}},
      {"lokr", {{"lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w1", {8, 8}},
                {"lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w2_a", {40, 4}}}}};
  for (const auto& [name, tensors] : files) {
    const std::string path = Write(dir_ / "in" / (name + ".safetensors"), Safetensors(tensors));
    CliRun run = Models("add " + Quote(path));
    ASSERT_EQ(run.exit_code, 0) << name << ": " << run.out;
    EXPECT_EQ(ParseOrFail(run)["added"][0]["kind"], "lora") << name << ": " << run.out;
  }
}

TEST_F(FarmctlModelsTest, UnchangedFilesAreNotHashedAgainAndVerifyFindsChanges) {
  // Files already in the models folder stay in place.
  const std::string base = Write(models_ / "sd15" / "base.safetensors", Safetensors(kSd15));
  Write(models_ / "loras" / "face.safetensors",
        Safetensors({{"lora_unet_a.lora_down.weight", {4, 8}}}));
  json first = ParseOrFail(Models("add " + Quote(models_.string())));
  ASSERT_EQ(first["added"].size(), 2u) << first.dump();
  EXPECT_EQ(first["hashed"], 2);
  EXPECT_EQ(first["added"][0]["path"], "loras/face.safetensors");
  json again = ParseOrFail(Models("add " + Quote(models_.string())));
  EXPECT_EQ(again["added"].size(), 2u);
  EXPECT_EQ(again["hashed"], 0) << "same size and mtime: the index's hash is reused";
  EXPECT_EQ(again["added"], first["added"]);

  json verified = ParseOrFail(Models("verify"));
  EXPECT_EQ(verified["ok"], true) << verified.dump();
  EXPECT_EQ(verified["hashed"], 2);

  // Same size, other bytes, other mtime: verify says which; add hashes it again.
  std::string changed = Safetensors(kSd15);
  changed.back() = '\x01';
  Write(base, changed);
  fs::last_write_time(base, fs::last_write_time(base) + std::chrono::seconds(5));
  CliRun bad = Models("verify");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  const json problems = ParseOrFail(bad)["problems"];
  ASSERT_EQ(problems.size(), 1u) << bad.out;
  EXPECT_EQ(problems[0]["name"], "base");
  EXPECT_NE(problems[0]["problem"].get<std::string>().find("changed"), std::string::npos);
  EXPECT_EQ(ParseOrFail(Models("add " + Quote(base)))["hashed"], 1);
  EXPECT_EQ(Models("verify").exit_code, 0);

  // A missing file, then rm.
  fs::remove(models_ / "loras" / "face.safetensors");
  CliRun missing = Models("verify", /*json_out=*/false);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("face: missing"), std::string::npos) << missing.out;
  EXPECT_EQ(Models("rm face").exit_code, 0);
  EXPECT_EQ(ParseOrFail(Models("list"))["models"].size(), 1u);
  CliRun gone = Models("show face");
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(ParseOrFail(gone)["error"]["message"].get<std::string>().find("no model named 'face'"),
            std::string::npos);
  EXPECT_EQ(Models("verify").exit_code, 0);
}

TEST_F(FarmctlModelsTest, ANameTakenByAnotherFileIsRefused) {
  const std::string a = Write(dir_ / "in" / "a.safetensors", Safetensors(kSd15));
  const std::string b = Write(dir_ / "in" / "b" / "a.safetensors",
                              Safetensors({{"lora_unet_x.lora_down.weight", {2, 2}}}));
  ASSERT_EQ(Models("add " + Quote(a) + " --link").exit_code, 0);
  CliRun taken = Models("add " + Quote(b) + " --link");
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(ParseOrFail(taken)["refused"][0]["reason"].get<std::string>().find("is taken"),
            std::string::npos)
      << taken.out;
  const json linked = ParseOrFail(Models("show a"));
  EXPECT_EQ(linked["model"]["path"], fs::path(a).string()) << "--link keeps the absolute path";
  EXPECT_FALSE(fs::exists(models_ / "sd15"));
}

TEST_F(FarmctlModelsTest, ASpecNamesAModelAsModelsName) {
  const std::string base = Write(dir_ / "in" / "base.safetensors", Safetensors(kSd15));
  ASSERT_EQ(Models("add " + Quote(base) + " --as mybase").exit_code, 0);
  Write(dir_ / "a.jpg", "\xff\xd8\xff\xe0 a photo");
  auto spec = [&](const std::string& checkpoint) {
    return Write(dir_ / "spec.yaml",
                 "name: named\nidentity: {name: t, photos: a.jpg, token: sks person}\n"
                 "checkpoint: {path: " + checkpoint + "}\n"
                 "render: {prompt: 'photo of {token}', sampler: Euler, cfg: 7, seeds: [1]}\n");
  };
  const std::string prefix = "cd " + Quote(dir_.string()) + " && " + Quote(kFarmctl) +
                             " --models-dir " + Quote(models_.string()) + " sweep ";
  CliRun ok = Shell(prefix + "validate " + Quote(spec("models:mybase")) + " 2>&1");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  CliRun expanded = Shell(prefix + "expand " + Quote(spec("models:mybase")) + " --json");
  ASSERT_EQ(expanded.exit_code, 0) << expanded.out;
  auto sha = farm::Sha256File(base);
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(ParseOrFail(expanded)["jobs"][0]["params"]["checkpoint"], *sha);
  CliRun unknown = Shell(prefix + "validate " + Quote(spec("models:nosuch")) + " 2>&1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("no model named 'nosuch'"), std::string::npos) << unknown.out;
}

}  // namespace
