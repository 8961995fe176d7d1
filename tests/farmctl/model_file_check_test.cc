// farmctl's pre-flight checks of model files (safetensors header and key layout) and
// identity photos (magic bytes), on files written byte by byte.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "model_file_check.h"
#include "photo_check.h"
#include "vae_fit.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

class ModelFileCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "model_file_check_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // A safetensors file: 8-byte little-endian length, `header`, `data_bytes` zero bytes.
  static std::string Safetensors(const std::string& header, std::size_t data_bytes,
                                 std::uint64_t length_override = 0) {
    const std::uint64_t length = length_override != 0 ? length_override : header.size();
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    return out + header + std::string(data_bytes, '\0');
  }

  // One F32 [2, 2] tensor per name, back to back (16 bytes each).
  static std::string Header(const std::vector<std::string>& names) {
    std::string out = "{\"__metadata__\":{\"format\":\"pt\"}";
    std::uint64_t at = 0;
    for (const std::string& name : names) {
      out += ",\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" +
             std::to_string(at) + "," + std::to_string(at + 16) + "]}";
      at += 16;
    }
    return out + "}";
  }

  fs::path dir_;
};

// A whole safetensors file of F32 zeros with these names and shapes.
std::string ShapedSafetensors(const std::vector<std::pair<std::string, std::vector<int>>>& tensors) {
  std::string header = "{";
  std::uint64_t at = 0;
  for (const auto& [name, shape] : tensors) {
    std::uint64_t bytes = 4;
    std::string dims;
    for (int dim : shape) {
      bytes *= static_cast<std::uint64_t>(dim);
      dims += (dims.empty() ? "" : ",") + std::to_string(dim);
    }
    header += std::string(header.size() > 1 ? "," : "") + "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims +
              "],\"data_offsets\":[" + std::to_string(at) + "," + std::to_string(at + bytes) + "]}";
    at += bytes;
  }
  header += "}";
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + std::string(at, '\0');
}

const std::vector<std::string> kLoraKeys = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"};

TEST_F(ModelFileCheckTest, PickleBytesAreToldFromASafetensorsLengthThatLooksLikeThem) {
  // A header of 640 bytes: its length starts 80 02, as a protocol-2 pickle does.
  std::string header = Header(kLoraKeys);
  header += std::string(640 - header.size(), ' ');
  const std::string safetensors = Write("lora.safetensors", Safetensors(header, 32));
  EXPECT_EQ(static_cast<unsigned char>(Safetensors(header, 0)[0]), 0x80);
  EXPECT_FALSE(IsPickleFile(safetensors));
  EXPECT_TRUE(CheckModelFile(safetensors, ModelRole::kLora).ok())
      << CheckModelFile(safetensors, ModelRole::kLora).ToString();
  EXPECT_TRUE(IsPickleFile(Write("model.safetensors", std::string("\x80\x02}q\x01(X\x05", 8))));
  EXPECT_TRUE(IsPickleFile(Write("archive.safetensors", std::string("PK\x03\x04\x14\0\0\0\0\0", 10))));
  EXPECT_TRUE(IsPickleFile(Write("old.ckpt", Safetensors(Header(kLoraKeys), 32))));
}

TEST_F(ModelFileCheckTest, AcceptsEachRoleInItsOwnLayout) {
  const std::string lora = Write("lora.safetensors", Safetensors(Header(kLoraKeys), 32));
  EXPECT_TRUE(CheckModelFile(lora, ModelRole::kLora).ok())
      << CheckModelFile(lora, ModelRole::kLora).ToString();
  const std::string checkpoint = Write(
      "sd.safetensors",
      Safetensors(Header({"cond_stage_model.transformer.text_model.final_layer_norm.weight",
                          "first_stage_model.decoder.conv_in.weight",
                          "model.diffusion_model.input_blocks.0.0.weight"}),
                  48));
  EXPECT_TRUE(CheckModelFile(checkpoint, ModelRole::kCheckpoint).ok())
      << CheckModelFile(checkpoint, ModelRole::kCheckpoint).ToString();
  const std::string original = Write(
      "cn.safetensors", Safetensors(Header({"control_model.input_hint_block.0.weight"}), 16));
  EXPECT_TRUE(CheckModelFile(original, ModelRole::kControlNet).ok());
  const std::string diffusers = Write(
      "cn_diffusers.safetensors",
      Safetensors(Header({"controlnet_cond_embedding.conv_in.weight", "conv_in.weight"}), 32));
  EXPECT_TRUE(CheckModelFile(diffusers, ModelRole::kControlNet).ok());
}

TEST_F(ModelFileCheckTest, ATruncatedFileIsDataLossNamingTheTensor) {
  // The header promises 32 bytes of tensor data; the file stops after 20.
  const std::string path = Write("lora.safetensors", Safetensors(Header(kLoraKeys), 20));
  const farm::Status status = CheckModelFile(path, ModelRole::kLora);
  EXPECT_EQ(status.code(), farm::StatusCode::kDataLoss) << status.ToString();
  EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("lora_up.weight"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, AFileCutInsideItsHeaderIsDataLoss) {
  const std::string full = Safetensors(Header(kLoraKeys), 32);
  const std::string path = Write("lora.safetensors", full.substr(0, 40));
  const farm::Status status = CheckModelFile(path, ModelRole::kLora);
  EXPECT_EQ(status.code(), farm::StatusCode::kDataLoss) << status.ToString();
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, VaeFilesHoldOnlyVaeKeys) {
  const std::string bare = Write("vae.safetensors",
                                 Safetensors(Header({"decoder.conv_in.weight", "encoder.conv_in.weight"}), 32));
  EXPECT_TRUE(CheckModelFile(bare, ModelRole::kVae).ok()) << CheckModelFile(bare, ModelRole::kVae).ToString();
  const std::string prefixed =
      Write("vae_prefixed.safetensors", Safetensors(Header({"first_stage_model.decoder.conv_in.weight"}), 16));
  EXPECT_TRUE(CheckModelFile(prefixed, ModelRole::kVae).ok());

  const std::string checkpoint = Write(
      "full.safetensors",
      Safetensors(Header({"first_stage_model.decoder.conv_in.weight", "model.diffusion_model.out.0.weight"}), 32));
  const farm::Status as_vae = CheckModelFile(checkpoint, ModelRole::kVae);
  EXPECT_EQ(as_vae.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(as_vae.message().find("not a VAE"), std::string::npos) << as_vae.message();
  EXPECT_NE(as_vae.message().find("found an SD checkpoint"), std::string::npos) << as_vae.message();
  const std::string lora = Write("lora.safetensors", Safetensors(Header(kLoraKeys), 32));
  EXPECT_EQ(CheckModelFile(lora, ModelRole::kVae).code(), farm::StatusCode::kInvalidArgument);
  // A VAE file given as the checkpoint says what it is.
  const farm::Status as_checkpoint = CheckModelFile(bare, ModelRole::kCheckpoint);
  EXPECT_NE(as_checkpoint.message().find("found a VAE-only file"), std::string::npos) << as_checkpoint.message();
}

TEST_F(ModelFileCheckTest, EmbeddingFilesHoldOneTensorAndSdxlOnesAreNamed) {
  const std::string one = Write("ti.safetensors", Safetensors(Header({"emb_params"}), 16));
  EXPECT_TRUE(CheckModelFile(one, ModelRole::kEmbedding).ok()) << CheckModelFile(one, ModelRole::kEmbedding).ToString();
  const std::string xl = Write("ti_xl.safetensors", Safetensors(Header({"clip_g", "clip_l"}), 32));
  const farm::Status sdxl = CheckModelFile(xl, ModelRole::kEmbedding);
  EXPECT_EQ(sdxl.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(sdxl.message().find("an SDXL embedding"), std::string::npos) << sdxl.message();
  const std::string lora = Write("lora_as_ti.safetensors", Safetensors(Header(kLoraKeys), 32));
  const farm::Status as_embedding = CheckModelFile(lora, ModelRole::kEmbedding);
  EXPECT_NE(as_embedding.message().find("not a textual-inversion embedding"), std::string::npos)
      << as_embedding.message();
  EXPECT_NE(as_embedding.message().find("found a kohya LoRA"), std::string::npos) << as_embedding.message();
}

TEST_F(ModelFileCheckTest, TheWrongArchitectureSaysWhatWasExpectedAndWhatWasFound) {
  const std::string lora = Write("lora.safetensors", Safetensors(Header(kLoraKeys), 32));
  const farm::Status as_controlnet = CheckModelFile(lora, ModelRole::kControlNet);
  EXPECT_EQ(as_controlnet.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(as_controlnet.message().find("not a ControlNet"), std::string::npos)
      << as_controlnet.message();
  EXPECT_NE(as_controlnet.message().find("control_model."), std::string::npos);
  EXPECT_NE(as_controlnet.message().find("kohya LoRA"), std::string::npos);

  const farm::Status as_checkpoint = CheckModelFile(lora, ModelRole::kCheckpoint);
  EXPECT_EQ(as_checkpoint.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(as_checkpoint.message().find("model.diffusion_model."), std::string::npos)
      << as_checkpoint.message();

  const std::string unet_only = Write(
      "unet.safetensors", Safetensors(Header({"model.diffusion_model.out.0.weight"}), 16));
  const farm::Status incomplete = CheckModelFile(unet_only, ModelRole::kCheckpoint);
  EXPECT_EQ(incomplete.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(incomplete.message().find("first_stage_model."), std::string::npos)
      << incomplete.message();

  const std::string controlnet = Write(
      "cn.safetensors", Safetensors(Header({"control_model.zero_convs.0.0.weight"}), 16));
  const farm::Status as_lora = CheckModelFile(controlnet, ModelRole::kLora);
  EXPECT_EQ(as_lora.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(as_lora.message().find("found a ControlNet"), std::string::npos) << as_lora.message();
}

TEST_F(ModelFileCheckTest, AHeaderThatIsNotJsonIsRefused) {
  const std::string path = Write("bad.safetensors", Safetensors("{\"a\": [1, 2", 0));
  const farm::Status status = CheckModelFile(path, ModelRole::kLora);
  EXPECT_EQ(status.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not valid JSON"), std::string::npos) << status.message();
  const std::string array = Write("array.safetensors", Safetensors("[1, 2]", 0));
  EXPECT_EQ(CheckModelFile(array, ModelRole::kLora).code(), farm::StatusCode::kInvalidArgument);
}

TEST_F(ModelFileCheckTest, AHugeHeaderLengthIsRefusedWithoutReadingIt) {
  const std::string path =
      Write("huge.safetensors", Safetensors("{}", 0, /*length_override=*/1ull << 40));
  const farm::Status status = CheckModelFile(path, ModelRole::kCheckpoint);
  EXPECT_EQ(status.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("exceeds the limit"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, MalformedEntriesNameTheTensor) {
  const std::string dtype = Write(
      "dtype.safetensors",
      Safetensors("{\"lora_te_x.alpha\":{\"dtype\":\"F7\",\"shape\":[],\"data_offsets\":[0,4]}}", 4));
  EXPECT_NE(CheckModelFile(dtype, ModelRole::kLora).message().find("unknown dtype"),
            std::string::npos);
  const std::string size = Write(
      "size.safetensors",
      Safetensors("{\"lora_te_x.alpha\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4));
  const farm::Status status = CheckModelFile(size, ModelRole::kLora);
  EXPECT_EQ(status.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("lora_te_x.alpha"), std::string::npos) << status.message();
}

TEST_F(ModelFileCheckTest, MissingEmptyAndPickleFilesAreExplained) {
  const farm::Status missing = CheckModelFile((dir_ / "nope.safetensors").string(), ModelRole::kLora);
  EXPECT_EQ(missing.code(), farm::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("nope.safetensors: no such file; expected a LoRA"),
            std::string::npos)
      << missing.message();
  EXPECT_EQ(CheckModelFile(Write("empty.safetensors", ""), ModelRole::kLora).code(),
            farm::StatusCode::kDataLoss);
  const farm::Status pickle = CheckModelFile(Write("model.ckpt", "PK\x03\x04"), ModelRole::kCheckpoint);
  EXPECT_EQ(pickle.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(pickle.message().find("pickle"), std::string::npos) << pickle.message();
}

TEST_F(ModelFileCheckTest, ADiffusersCheckpointFolderNeedsItsThreeParts) {
  const fs::path folder = dir_ / "sd15";
  fs::create_directories(folder / "unet");
  fs::create_directories(folder / "vae");
  Write("sd15/unet/diffusion_pytorch_model.safetensors", Safetensors(Header({"conv_in.weight"}), 16));
  Write("sd15/vae/diffusion_pytorch_model.safetensors", Safetensors(Header({"decoder.conv_in.weight"}), 16));
  const farm::Status status = CheckModelFile(folder.string(), ModelRole::kCheckpoint);
  EXPECT_EQ(status.code(), farm::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("text_encoder/model.safetensors"), std::string::npos)
      << status.message();
  fs::create_directories(folder / "text_encoder");
  Write("sd15/text_encoder/model.safetensors",
        Safetensors(Header({"text_model.final_layer_norm.weight"}), 16));
  EXPECT_TRUE(CheckModelFile(folder.string(), ModelRole::kCheckpoint).ok());
  EXPECT_EQ(CheckModelFile(folder.string(), ModelRole::kLora).code(),
            farm::StatusCode::kInvalidArgument);
}

TEST_F(ModelFileCheckTest, PhotosAreRecognisedByTheirMagicBytes) {
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0", 21);
  EXPECT_TRUE(CheckPhotoFile(Write("a.png", png)).ok());
  EXPECT_TRUE(CheckPhotoFile(Write("a.jpg", "\xff\xd8\xff\xe0\0\x10JFIF")).ok());
  EXPECT_TRUE(CheckPhotoFile(Write("a.webp", std::string("RIFF\0\0\0\0WEBPVP8 ", 16))).ok());

  const farm::Status text = CheckPhotoFile(Write("notes.jpg", "these are my notes\n"));
  EXPECT_EQ(text.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(text.message().find("notes.jpg: not an image"), std::string::npos) << text.message();
  EXPECT_NE(text.message().find("expected a JPEG, PNG"), std::string::npos) << text.message();
  EXPECT_EQ(CheckPhotoFile(Write("empty.png", "")).code(), farm::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPhotoFile(Write("cut.png", "\x89PNG\r\n\x1a\n")).code(),
            farm::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPhotoFile((dir_ / "missing.jpg").string()).code(), farm::StatusCode::kNotFound);
}

TEST_F(ModelFileCheckTest, InpaintingCheckpointsAreRefusedWithWhatToUseInstead) {
  auto checkpoint = [](int in_channels) {
    return ShapedSafetensors({{"cond_stage_model.transformer.text_model.final_layer_norm.weight", {4}},
                              {"first_stage_model.decoder.conv_in.weight", {8, 4, 3, 3}},
                              {"model.diffusion_model.input_blocks.0.0.weight", {8, in_channels, 3, 3}}});
  };
  const std::string plain = Write("sd15.safetensors", checkpoint(4));
  EXPECT_TRUE(CheckModelFile(plain, ModelRole::kCheckpoint).ok())
      << CheckModelFile(plain, ModelRole::kCheckpoint).ToString();
  const std::string inpainting = Write("sd15-inpainting.safetensors", checkpoint(9));
  const farm::Status refused = CheckModelFile(inpainting, ModelRole::kCheckpoint);
  EXPECT_EQ(refused.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find(inpainting + ": an inpainting checkpoint (9-channel UNet"), std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("expected the checkpoint the inpainting model was made from"), std::string::npos)
      << refused.message();

  // The same in a diffusers folder: unet/ holds conv_in.weight.
  const fs::path folder = dir_ / "inpainting-diffusers";
  for (const char* part : {"unet", "vae", "text_encoder"}) fs::create_directories(folder / part);
  Write("inpainting-diffusers/unet/diffusion_pytorch_model.safetensors",
        ShapedSafetensors({{"conv_in.weight", {8, 9, 3, 3}}}));
  Write("inpainting-diffusers/vae/diffusion_pytorch_model.safetensors",
        ShapedSafetensors({{"decoder.conv_in.weight", {8, 4, 3, 3}}}));
  Write("inpainting-diffusers/text_encoder/model.safetensors",
        ShapedSafetensors({{"text_model.final_layer_norm.weight", {4}}}));
  EXPECT_NE(CheckModelFile(folder.string(), ModelRole::kCheckpoint).message().find("an inpainting checkpoint"),
            std::string::npos);
}

class VaeFitTest : public ModelFileCheckTest {
 protected:
  // An LDM checkpoint whose VAE has a decoder conv_in of `latent` channels, one mid
  // attention projection (a 1x1 conv) and a loss buffer that is not a weight.
  std::string Checkpoint(const std::string& name, int latent = 4) {
    return Write(name, ShapedSafetensors({{"cond_stage_model.transformer.text_model.final_layer_norm.weight", {4}},
                                          {"first_stage_model.decoder.conv_in.weight", {8, latent, 3, 3}},
                                          {"first_stage_model.decoder.mid.attn_1.q.weight", {8, 8, 1, 1}},
                                          {"first_stage_model.loss.logvar", {1}},
                                          {"model.diffusion_model.input_blocks.0.0.weight", {8, 4, 3, 3}}}));
  }
};

TEST_F(VaeFitTest, AVaeOfTheCheckpointsShapesFitsInEitherLayout) {
  const std::string checkpoint = Checkpoint("sd.safetensors");
  const std::string ldm = Write("ldm-vae.safetensors",
                                ShapedSafetensors({{"decoder.conv_in.weight", {8, 4, 3, 3}},
                                                   {"decoder.mid.attn_1.q.weight", {8, 8, 1, 1}},
                                                   {"model_ema.decay", {}}}));
  EXPECT_TRUE(CheckVaeFitsCheckpoint(ldm, checkpoint).ok()) << CheckVaeFitsCheckpoint(ldm, checkpoint).ToString();
  const std::string prefixed = Write("prefixed-vae.safetensors",
                                     ShapedSafetensors({{"first_stage_model.decoder.conv_in.weight", {8, 4, 3, 3}},
                                                        {"first_stage_model.decoder.mid.attn_1.q.weight", {8, 8, 1, 1}}}));
  EXPECT_TRUE(CheckVaeFitsCheckpoint(prefixed, checkpoint).ok());
  // diffusers names, the attention projection a linear.
  const std::string diffusers = Write("diffusers-vae.safetensors",
                                      ShapedSafetensors({{"decoder.conv_in.weight", {8, 4, 3, 3}},
                                                         {"decoder.mid_block.attentions.0.to_q.weight", {8, 8}}}));
  EXPECT_TRUE(CheckVaeFitsCheckpoint(diffusers, checkpoint).ok())
      << CheckVaeFitsCheckpoint(diffusers, checkpoint).ToString();
}

TEST_F(VaeFitTest, AVaeOfAnotherArchitectureIsNamedWithTheFirstDifference) {
  const std::string checkpoint = Checkpoint("sd.safetensors");
  // SDXL-style 16-channel latents (as SD3/Flux VAEs have).
  const std::string wide = Write("wide-vae.safetensors",
                                 ShapedSafetensors({{"decoder.conv_in.weight", {8, 16, 3, 3}},
                                                    {"decoder.mid.attn_1.q.weight", {8, 8, 1, 1}}}));
  farm::Status status = CheckVaeFitsCheckpoint(wide, checkpoint);
  EXPECT_EQ(status.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(wide + ": does not fit the VAE of the checkpoint " + checkpoint), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("tensor 'decoder.conv_in.weight' is [8,16,3,3], the checkpoint's VAE has [8,4,3,3]"),
            std::string::npos)
      << status.message();

  const std::string partial = Write("partial-vae.safetensors", ShapedSafetensors({{"decoder.conv_in.weight", {8, 4, 3, 3}}}));
  status = CheckVaeFitsCheckpoint(partial, checkpoint);
  EXPECT_NE(status.message().find("it lacks 'decoder.mid.attn_1.q.weight'"), std::string::npos) << status.message();

  const std::string diffusers = Write("diffusers-wide-vae.safetensors",
                                      ShapedSafetensors({{"decoder.conv_in.weight", {8, 16, 3, 3}},
                                                         {"decoder.mid_block.attentions.0.to_q.weight", {8, 8}}}));
  status = CheckVaeFitsCheckpoint(diffusers, checkpoint);
  EXPECT_EQ(status.code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("the file has 1 of shape [8,16,3,3] more; the checkpoint's VAE has 1 of shape "
                                   "[8,4,3,3] more"),
            std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace farmctl
