#include "model_kind.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <string_view>
#include <utility>

namespace farmctl {
namespace {

bool Any(const SafetensorsHeader& header, bool (*match)(std::string_view)) {
  return std::any_of(header.tensors.begin(), header.tensors.end(),
                     [match](const TensorInfo& t) { return match(t.name); });
}

bool All(const SafetensorsHeader& header, bool (*match)(std::string_view)) {
  return !header.tensors.empty() &&
         std::all_of(header.tensors.begin(), header.tensors.end(),
                     [match](const TensorInfo& t) { return match(t.name); });
}

const TensorInfo* Find(const SafetensorsHeader& header, std::string_view name) {
  for (const TensorInfo& tensor : header.tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

bool IsVPrediction(const SafetensorsHeader& header) {
  if (Find(header, "v_pred")) return true;
  for (const char* key : {"modelspec.prediction_type", "prediction_type"}) {
    auto it = header.metadata.find(key);
    if (it != header.metadata.end() && (it->second == "v" || it->second == "v_prediction")) {
      return true;
    }
  }
  return false;
}

// SD 2.x: the OpenCLIP text encoder, or cross-attention over 1024-wide text features.
bool IsSd2(const SafetensorsHeader& header) {
  if (Any(header, [](std::string_view n) { return n.starts_with("cond_stage_model.model."); })) {
    return true;
  }
  return std::any_of(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& t) {
    return t.name.starts_with("model.diffusion_model.") &&
           t.name.ends_with("attn2.to_k.weight") && t.shape.size() == 2 && t.shape[1] == 1024;
  });
}

// Network kinds that use LoRA's module names but are not applied (LoHa and LoKr are), refused
// as the renderer refuses them (the same table as kernels/sd/lora/src/lora_naming.cc): "" for none.
std::string ForeignNetworkKind(const SafetensorsHeader& header) {
  static constexpr std::pair<std::string_view, std::string_view> kSuffixes[] = {
      {".on_input", "(IA)^3 (LyCORIS)"},
      {".a1.weight", "GLoRA (LyCORIS)"},
      {".oft_blocks", "OFT"},
      {".oft_diag", "OFT"},
      {".dora_scale", "DoRA"},
      {".lora_magnitude_vector", "DoRA"},
      {".lora_magnitude_vector.weight", "DoRA"},
      {".diff", "full-weight difference (LyCORIS full)"},
  };
  for (const TensorInfo& tensor : header.tensors) {
    // LyCORIS keeps kohya's lora_unet_/lora_te_ names; PEFT's DoRA is lora_magnitude_vector.
    if (tensor.name.find("lora") == std::string::npos) continue;
    for (const auto& [suffix, kind] : kSuffixes) {
      if (tensor.name.ends_with(suffix)) return std::string(kind);
    }
  }
  return {};
}

bool IsLoraTensor(std::string_view n) {
  constexpr std::string_view kMarks[] = {".lora_A.", ".lora_B.", ".lora.down.", ".lora.up.",
                                         ".lora_linear_layer.", "_lora.down.", "_lora.up."};
  if (n.starts_with("lora_unet_") || n.starts_with("lora_te_")) return true;
  return std::any_of(std::begin(kMarks), std::end(kMarks),
                     [n](std::string_view mark) { return n.find(mark) != std::string_view::npos; });
}

farm::Status Refuse(const std::string& path, const std::string& what) {
  return farm::InvalidArgument(path + ": " + what);
}

}  // namespace

std::string MainDtype(const SafetensorsHeader& header) {
  std::map<std::string, std::uint64_t> bytes;
  for (const TensorInfo& tensor : header.tensors) bytes[tensor.dtype] += tensor.bytes;
  std::string best;
  std::uint64_t most = 0;
  for (const auto& [dtype, count] : bytes) {
    if (best.empty() || count > most) best = dtype, most = count;
  }
  return best;
}

farm::StatusOr<std::string> DetectModelKind(const std::string& path,
                                            const SafetensorsHeader& header) {
  constexpr const char* kRenders =
      "; StudioFarm renders SD 1.5: use an SD 1.5 checkpoint (or a fine-tune of one)";
  if (header.tensors.empty()) return Refuse(path, "holds no tensors; expected a model file");
  if (Any(header, [](std::string_view n) { return n.starts_with("conditioner.embedders."); })) {
    return Refuse(path, std::string("this is an SDXL checkpoint") + kRenders);
  }
  if (Any(header, [](std::string_view n) { return n.find("joint_blocks") != std::string_view::npos; })) {
    return Refuse(path, std::string("this is an SD3 checkpoint") + kRenders);
  }
  if (Any(header, [](std::string_view n) { return n.find("double_blocks") != std::string_view::npos; })) {
    return Refuse(path, std::string("this is a Flux checkpoint") + kRenders);
  }
  if (IsSd2(header)) {
    return Refuse(path, std::string("this is an SD 2.x checkpoint (OpenCLIP text encoder, "
                                    "1024-wide cross-attention)") + kRenders);
  }
  if (IsVPrediction(header)) {
    return Refuse(path, "a v-prediction model (marked by a v_pred key or prediction_type "
                        "metadata); StudioFarm's samplers predict noise (epsilon): use the "
                        "epsilon version of the model");
  }
  if (std::string foreign = ForeignNetworkKind(header); !foreign.empty()) {
    return Refuse(path, "this is a " + foreign + " file; StudioFarm applies LoRA and LoCon (kohya "
                        "lora_down/lora_up, or diffusers/PEFT lora_A/lora_B tensors) and LyCORIS "
                        "LoHa and LoKr: use a LoRA version of it");
  }
  if (Any(header, IsLoraTensor)) return std::string("lora");
  if (Any(header, [](std::string_view n) {
        return n.starts_with("control_model.") || n.starts_with("controlnet_");
      })) {
    return std::string("controlnet");
  }
  if (const TensorInfo* conv_in = Find(header, "model.diffusion_model.input_blocks.0.0.weight")) {
    const std::uint64_t in_channels = conv_in->shape.size() == 4 ? conv_in->shape[1] : 0;
    if (in_channels == 4) return std::string("sd15");
    if (in_channels == 9) return std::string("sd15-inpainting");
    return Refuse(path, "an SD UNet whose first convolution takes " + std::to_string(in_channels) +
                            " channels; expected 4 (SD 1.5) or 9 (SD 1.5 inpainting)");
  }
  if (All(header, [](std::string_view n) {
        return n.starts_with("encoder.") || n.starts_with("decoder.") ||
               n.starts_with("quant_conv.") || n.starts_with("post_quant_conv.");
      }) ||
      All(header, [](std::string_view n) { return n.starts_with("first_stage_model."); })) {
    return std::string("vae");
  }
  if (Find(header, "clip_g")) {
    // A1111 skips these on SD 1.5 (their width is 1280 + 768, not the text encoder's 768).
    return Refuse(path, "this is an SDXL textual-inversion embedding (clip_g and clip_l); StudioFarm renders "
                        "SD 1.5: use the SD 1.5 version of the embedding");
  }
  if (Find(header, "emb_params") || Find(header, "clip_l")) return std::string("embedding");
  if (Any(header, [](std::string_view n) { return n.starts_with("model.diffusion_model."); })) {
    return Refuse(path, "an SD checkpoint without model.diffusion_model.input_blocks.0.0.weight; "
                        "expected a complete SD 1.5 checkpoint");
  }
  return Refuse(path, "not a model StudioFarm knows (tensors such as '" + header.tensors[0].name +
                          "'); expected an SD 1.5 checkpoint, inpainting checkpoint, LoRA, "
                          "ControlNet, VAE or textual-inversion embedding");
}

}  // namespace farmctl
