#include "model_file_check.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<std::uint64_t> DTypeBytes(const std::string& name) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 10> kSizes = {{
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}}};
  for (const auto& [dtype, size] : kSizes) {
    if (name == dtype) return size;
  }
  return std::nullopt;
}

bool AnyStartsWith(const std::vector<std::string>& keys, std::string_view prefix) {
  return std::any_of(keys.begin(), keys.end(),
                     [prefix](const std::string& key) { return key.starts_with(prefix); });
}

bool IsLoraKey(const std::string& key) {
  return key.starts_with("lora_unet_") || key.starts_with("lora_te_");
}

bool IsControlNetKey(const std::string& key) {
  for (std::string_view prefix :
       {"control_model.", "input_hint_block.", "zero_convs.", "middle_block_out.",
        "controlnet_cond_embedding.", "controlnet_down_blocks.", "controlnet_mid_block."}) {
    if (key.starts_with(prefix)) return true;
  }
  return false;
}

// encoder./decoder. keys (with or without first_stage_model.) and no UNet or text encoder.
bool IsVaeOnly(const std::vector<std::string>& keys) {
  if (AnyStartsWith(keys, "model.diffusion_model.") || AnyStartsWith(keys, "cond_stage_model.")) return false;
  for (std::string_view prefix :
       {"encoder.", "decoder.", "first_stage_model.encoder.", "first_stage_model.decoder."}) {
    if (AnyStartsWith(keys, prefix)) return true;
  }
  return false;
}

// "an SD 1.5 checkpoint", "a LoRA".
std::string WithArticle(ModelRole role) {
  return std::string(role == ModelRole::kCheckpoint ? "an " : "a ") + ModelRoleName(role);
}

// What the keys look like, for "expected X, found Y".
std::string Looks(const std::vector<std::string>& keys) {
  if (std::any_of(keys.begin(), keys.end(), IsLoraKey)) return "a kohya LoRA (lora_unet_*/lora_te_*)";
  if (std::any_of(keys.begin(), keys.end(), IsControlNetKey)) return "a ControlNet";
  if (AnyStartsWith(keys, "model.diffusion_model.")) return "an SD checkpoint in the LDM layout";
  if (IsVaeOnly(keys)) return "a VAE-only file";
  if (AnyStartsWith(keys, "down_blocks.") || AnyStartsWith(keys, "text_model.")) {
    return "one part of a diffusers model (use the folder)";
  }
  if (keys.empty()) return "no tensors at all";
  std::string sample;
  for (std::size_t i = 0; i < keys.size() && i < 3; ++i) {
    sample += (i == 0 ? "'" : ", '") + keys[i] + "'";
  }
  return "unknown keys such as " + sample;
}

farm::Status WrongArchitecture(const std::string& path, ModelRole role, const std::string& expected,
                               const std::vector<std::string>& keys) {
  return farm::InvalidArgument(path + ": not " + WithArticle(role) +
                               ": expected " + expected + ", found " + Looks(keys));
}

farm::Status CheckKeys(const std::string& path, ModelRole role,
                       const std::vector<std::string>& keys) {
  switch (role) {
    case ModelRole::kCheckpoint: {
      std::string missing;
      for (std::string_view prefix :
           {"model.diffusion_model.", "first_stage_model.", "cond_stage_model."}) {
        if (!AnyStartsWith(keys, prefix)) {
          missing += (missing.empty() ? "'" : "', '") + std::string(prefix);
        }
      }
      if (missing.empty()) return farm::Status::Ok();
      if (!AnyStartsWith(keys, "model.diffusion_model.")) {
        return WrongArchitecture(path, role,
                                 "keys under model.diffusion_model., first_stage_model. and "
                                 "cond_stage_model. (LDM layout) or a diffusers folder",
                                 keys);
      }
      return farm::InvalidArgument(path + ": an incomplete SD 1.5 checkpoint: no key starts with " +
                                   missing + "'; expected the UNet, VAE and text encoder");
    }
    case ModelRole::kControlNet:
      if (std::any_of(keys.begin(), keys.end(), IsControlNetKey)) return farm::Status::Ok();
      return WrongArchitecture(path, role,
                               "keys under control_model. (original layout) or "
                               "controlnet_cond_embedding./controlnet_down_blocks. (diffusers)",
                               keys);
    case ModelRole::kLora:
      if (std::any_of(keys.begin(), keys.end(), IsLoraKey)) return farm::Status::Ok();
      return WrongArchitecture(path, role, "kohya LoRA keys (lora_unet_*, lora_te_*)", keys);
    case ModelRole::kEmbedding:
      if (std::find(keys.begin(), keys.end(), "clip_g") != keys.end()) {
        return farm::InvalidArgument(path + ": an SDXL embedding (clip_g and clip_l vectors); StudioFarm renders "
                                     "SD 1.5: use the SD 1.5 version of the embedding");
      }
      if (keys.size() == 1) return farm::Status::Ok();
      return WrongArchitecture(path, role, "one tensor (emb_params, or clip_l alone)", keys);
    case ModelRole::kVae:
      if (IsVaeOnly(keys)) return farm::Status::Ok();
      return WrongArchitecture(path, role,
                               "only VAE keys (encoder./decoder., with or without first_stage_model.)",
                               keys);
  }
  return farm::Status::Ok();
}

farm::Status CheckEntry(const std::string& path, const std::string& name, const json& entry,
                        std::uint64_t data_size, TensorInfo& info) {
  auto bad = [&](const std::string& what) {
    return farm::InvalidArgument(path + ": tensor '" + name + "': " + what);
  };
  if (!entry.is_object()) return bad("header entry is not an object");
  auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) return bad("missing \"dtype\"");
  const std::optional<std::uint64_t> item = DTypeBytes(dtype->get<std::string>());
  if (!item) return bad("unknown dtype \"" + dtype->get<std::string>() + "\"");
  auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) return bad("missing \"shape\"");
  std::uint64_t bytes = *item;
  for (const json& dim : *shape) {
    if (!dim.is_number_unsigned()) return bad("shape holds " + dim.dump() + ", expected sizes >= 0");
    info.shape.push_back(dim.get<std::uint64_t>());
    if (__builtin_mul_overflow(bytes, dim.get<std::uint64_t>(), &bytes)) {
      return bad("shape " + shape->dump() + " needs more bytes than fit in 64 bits");
    }
  }
  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    return bad("\"data_offsets\" must be [begin, end] with non-negative integers");
  }
  const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>();
  const std::uint64_t end = (*offsets)[1].get<std::uint64_t>();
  if (begin > end) return bad("data_offsets " + offsets->dump() + " end before they begin");
  if (end > data_size) {
    return farm::DataLoss(path + ": truncated: tensor '" + name + "' ends at byte " +
                          std::to_string(end) + " of the data section, which holds only " +
                          std::to_string(data_size) + " bytes; expected the whole file (copy "
                          "or download it again)");
  }
  if (end - begin != bytes) {
    return bad("data_offsets " + offsets->dump() + " hold " + std::to_string(end - begin) +
               " bytes but " + dtype->get<std::string>() + " " + shape->dump() + " needs " +
               std::to_string(bytes));
  }
  info.name = name;
  info.dtype = dtype->get<std::string>();
  info.bytes = bytes;
  return farm::Status::Ok();
}

bool HasPickleExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

// The first of `names` (relative to `folder`) that exists, or NotFound naming the first.
farm::StatusOr<std::string> FindPart(const fs::path& folder, const std::vector<std::string>& names) {
  std::error_code ec;
  for (const std::string& name : names) {
    if (fs::is_regular_file(folder / name, ec)) return (folder / name).string();
  }
  return farm::NotFound(folder.string() + ": the diffusers folder lacks " + names[0]);
}

// The engine renders with a 4-channel UNet; an inpainting checkpoint's first convolution
// takes 9 (latent, mask, masked-image latent) and is refused by the agents.
farm::Status RefuseInpaintingUnet(const std::string& path, const SafetensorsHeader& header,
                                  const std::string& conv_in) {
  for (const TensorInfo& tensor : header.tensors) {
    if (tensor.name != conv_in || tensor.shape.size() != 4 || tensor.shape[1] != 9) continue;
    return farm::InvalidArgument(
        path + ": an inpainting checkpoint (9-channel UNet: latent, mask and masked image); "
               "StudioFarm renders txt2img, img2img, inpaint and the detailer with a 4-channel SD 1.5 "
               "UNet: expected the checkpoint the inpainting model was made from (or any SD 1.5 "
               "checkpoint)");
  }
  return farm::Status::Ok();
}

}  // namespace

const char* ModelRoleName(ModelRole role) {
  switch (role) {
    case ModelRole::kCheckpoint:
      return "SD 1.5 checkpoint";
    case ModelRole::kControlNet:
      return "ControlNet";
    case ModelRole::kLora:
      return "LoRA";
    case ModelRole::kVae:
      return "VAE";
    case ModelRole::kEmbedding:
      return "textual-inversion embedding";
  }
  return "model";
}

farm::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path) {
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) return farm::Unavailable(path + ": cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) return farm::Unavailable(path + ": cannot open it");
  if (size < 8) {
    return farm::DataLoss(path + ": " + (size == 0 ? std::string("empty file") : "only " + std::to_string(size) + " bytes") +
                          "; expected a .safetensors file (8-byte header length, JSON header, "
                          "tensor data)");
  }
  unsigned char raw[8];
  in.read(reinterpret_cast<char*>(raw), 8);
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | raw[i];
  if (length > kMaxSafetensorsHeaderBytes) {
    return farm::InvalidArgument(path + ": header length " + std::to_string(length) +
                                 " exceeds the limit of " +
                                 std::to_string(kMaxSafetensorsHeaderBytes) +
                                 " bytes; expected a .safetensors file");
  }
  if (length > size - 8) {
    return farm::DataLoss(path + ": truncated: the header says it is " + std::to_string(length) +
                          " bytes long but the file has " + std::to_string(size - 8) +
                          " after the length; expected the whole file");
  }
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  if (static_cast<std::uint64_t>(in.gcount()) != length) {
    return farm::Unavailable(path + ": could not read its " + std::to_string(length) +
                             "-byte header");
  }
  json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return farm::InvalidArgument(path + ": the safetensors header is not valid JSON; expected a "
                                 ".safetensors file");
  }
  if (!header.is_object()) {
    return farm::InvalidArgument(path + ": the safetensors header is a JSON " +
                                 std::string(header.type_name()) + ", expected an object");
  }
  const std::uint64_t data_size = size - 8 - length;
  SafetensorsHeader result;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) continue;
      for (auto item = it.value().begin(); item != it.value().end(); ++item) {
        if (item.value().is_string()) result.metadata[item.key()] = item.value().get<std::string>();
      }
      continue;
    }
    TensorInfo info;
    FARM_RETURN_IF_ERROR(CheckEntry(path, it.key(), it.value(), data_size, info));
    result.tensors.push_back(std::move(info));
  }
  std::sort(result.tensors.begin(), result.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return result;
}

bool IsPickleFile(const std::string& path) {
  if (HasPickleExtension(path)) return true;
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[9] = {};
  in.read(reinterpret_cast<char*>(magic), sizeof(magic));
  const std::streamsize got = in.gcount();
  if (got < 2) return false;
  // A safetensors header length can start with the same bytes (640 is 80 02 00 ...); its
  // JSON header then begins at byte 8.
  if (got == 9 && magic[8] == '{') return false;
  if (magic[0] == 'P' && magic[1] == 'K' && got >= 4 && magic[2] == 3 && magic[3] == 4) {
    return true;
  }
  return magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5;
}

farm::Status CheckSafetensorsHeader(const std::string& path, ModelRole role, bool expect_keys) {
  FARM_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(path));
  std::vector<std::string> keys;
  for (const TensorInfo& tensor : header.tensors) keys.push_back(tensor.name);
  if (!expect_keys) {
    if (keys.empty()) return farm::InvalidArgument(path + ": holds no tensors");
    return role == ModelRole::kCheckpoint ? RefuseInpaintingUnet(path, header, "conv_in.weight")
                                          : farm::Status::Ok();
  }
  FARM_RETURN_IF_ERROR(CheckKeys(path, role, keys));
  return role == ModelRole::kCheckpoint
             ? RefuseInpaintingUnet(path, header, "model.diffusion_model.input_blocks.0.0.weight")
             : farm::Status::Ok();
}

farm::Status CheckModelFile(const std::string& path, ModelRole role) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    return farm::NotFound(path + ": no such file; expected " + WithArticle(role) +
                          " (.safetensors)");
  }
  if (HasPickleExtension(path)) {
    return farm::InvalidArgument(path + ": a pickle checkpoint (.ckpt/.pt/.pth/.bin), which the "
                                 "agents refuse because unpickling can run code; expected the "
                                 "same model converted to .safetensors");
  }
  if (fs::is_directory(status)) {
    if (role == ModelRole::kCheckpoint) {
      // diffusers: unet/, vae/, text_encoder/ each with its safetensors file.
      static constexpr std::pair<const char*, const char*> kParts[] = {
          {"unet", "diffusion_pytorch_model"},
          {"vae", "diffusion_pytorch_model"},
          {"text_encoder", "model"}};
      for (const auto& [part, stem] : kParts) {
        const std::string base = std::string(part) + "/" + stem;
        const std::vector<std::string> names = {base + ".safetensors", base + ".fp16.safetensors"};
        FARM_ASSIGN_OR_RETURN(std::string file, FindPart(path, names));
        FARM_RETURN_IF_ERROR(CheckSafetensorsHeader(file, role, false));
      }
      return farm::Status::Ok();
    }
    if (role == ModelRole::kControlNet) {
      const std::vector<std::string> names = {"diffusion_pytorch_model.safetensors",
                                              "diffusion_pytorch_model.fp16.safetensors"};
      FARM_ASSIGN_OR_RETURN(std::string file, FindPart(path, names));
      return CheckSafetensorsHeader(file, role, true);
    }
    return farm::InvalidArgument(path + ": is a folder; expected " + WithArticle(role) +
                                 " .safetensors file");
  }
  if (!fs::is_regular_file(status)) {
    return farm::InvalidArgument(path + ": not a regular file; expected " + WithArticle(role) +
                                 " .safetensors file");
  }
  return CheckSafetensorsHeader(path, role, true);
}

}  // namespace farmctl
