#include "vae_fit.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "model_file_check.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using Shape = std::vector<std::uint64_t>;

constexpr std::string_view kLdmVaePrefix = "first_stage_model.";

struct VaeShapes {
  bool diffusers = false;
  std::map<std::string, Shape> by_name;
};

bool IsVaeWeight(std::string_view key) {
  for (std::string_view root : {"encoder.", "decoder.", "quant_conv.", "post_quant_conv."}) {
    if (key.starts_with(root)) return true;
  }
  return false;
}

bool IsDiffusersName(std::string_view key) {
  return key.find(".down_blocks.") != std::string_view::npos ||
         key.find(".up_blocks.") != std::string_view::npos ||
         key.find(".mid_block.") != std::string_view::npos;
}

// Folders written by older diffusers versions name the mid-block attention differently
// (as kernels/sd's loader renames them).
std::string ModernDiffusersName(const std::string& name) {
  static constexpr std::pair<std::string_view, std::string_view> kRenames[] = {
      {"attentions.0.query.", "attentions.0.to_q."},
      {"attentions.0.key.", "attentions.0.to_k."},
      {"attentions.0.value.", "attentions.0.to_v."},
      {"attentions.0.proj_attn.", "attentions.0.to_out.0."}};
  for (const auto& [old_name, new_name] : kRenames) {
    const std::size_t at = name.find(old_name);
    if (at != std::string::npos) {
      return name.substr(0, at) + std::string(new_name) + name.substr(at + old_name.size());
    }
  }
  return name;
}

// [C,C,1,1] -> [C,C]: a 1x1 convolution and a linear hold the same weights.
Shape Normalized(Shape shape) {
  if (shape.size() == 4 && shape[2] == 1 && shape[3] == 1) shape.resize(2);
  return shape;
}

std::string ShapeText(const Shape& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// The VAE weights of a header: `ldm_prefix_only` keeps only keys under first_stage_model.
// (a full checkpoint), else keys with or without it (a VAE file).
VaeShapes ShapesOf(const SafetensorsHeader& header, bool ldm_prefix_only) {
  VaeShapes out;
  for (const TensorInfo& tensor : header.tensors) {
    std::string_view key = tensor.name;
    if (key.starts_with(kLdmVaePrefix)) {
      key.remove_prefix(kLdmVaePrefix.size());
    } else if (ldm_prefix_only) {
      continue;
    }
    if (!IsVaeWeight(key)) continue;  // loss.*, model_ema.*, ...
    out.diffusers = out.diffusers || IsDiffusersName(key);
    out.by_name[std::string(key)] = Normalized(tensor.shape);
  }
  if (out.diffusers) {
    std::map<std::string, Shape> renamed;
    for (auto& [name, shape] : out.by_name) renamed[ModernDiffusersName(name)] = std::move(shape);
    out.by_name = std::move(renamed);
  }
  return out;
}

farm::StatusOr<VaeShapes> CheckpointVaeShapes(const std::string& checkpoint_path) {
  std::error_code ec;
  if (!fs::is_directory(checkpoint_path, ec)) {
    FARM_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(checkpoint_path));
    return ShapesOf(header, /*ldm_prefix_only=*/true);
  }
  for (const char* name : {"vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors"}) {
    const fs::path part = fs::path(checkpoint_path) / name;
    if (!fs::is_regular_file(part, ec)) continue;
    FARM_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(part.string()));
    VaeShapes shapes = ShapesOf(header, /*ldm_prefix_only=*/false);
    shapes.diffusers = true;
    return shapes;
  }
  return farm::NotFound(checkpoint_path + ": the diffusers folder lacks vae/diffusion_pytorch_model.safetensors");
}

// The first difference by name, "" when the names and shapes agree.
std::string CompareByName(const VaeShapes& vae, const VaeShapes& checkpoint) {
  for (const auto& [name, shape] : checkpoint.by_name) {
    const auto it = vae.by_name.find(name);
    if (it == vae.by_name.end()) return "it lacks '" + name + "' that the checkpoint's VAE has";
    if (it->second != shape) {
      return "tensor '" + name + "' is " + ShapeText(it->second) + ", the checkpoint's VAE has " + ShapeText(shape);
    }
  }
  for (const auto& [name, shape] : vae.by_name) {
    if (!checkpoint.by_name.count(name)) return "it has '" + name + "' that the checkpoint's VAE lacks";
  }
  return "";
}

// Across layouts: the same shapes the same number of times.
std::string CompareByShape(const VaeShapes& vae, const VaeShapes& checkpoint) {
  std::map<Shape, int> count;  // file minus checkpoint
  for (const auto& [name, shape] : vae.by_name) ++count[shape];
  for (const auto& [name, shape] : checkpoint.by_name) --count[shape];
  std::string in_file, in_checkpoint;  // the first surplus on each side
  for (const auto& [shape, difference] : count) {
    const std::string what = std::to_string(difference > 0 ? difference : -difference) + " of shape " + ShapeText(shape);
    if (difference > 0 && in_file.empty()) in_file = what;
    if (difference < 0 && in_checkpoint.empty()) in_checkpoint = what;
  }
  if (in_file.empty() && in_checkpoint.empty()) return "";
  std::string out = std::to_string(vae.by_name.size()) + " tensors against the checkpoint VAE's " +
                    std::to_string(checkpoint.by_name.size());
  if (!in_file.empty()) out += "; the file has " + in_file + " more";
  if (!in_checkpoint.empty()) out += "; the checkpoint's VAE has " + in_checkpoint + " more";
  return out;
}

}  // namespace

farm::Status CheckVaeFitsCheckpoint(const std::string& vae_path, const std::string& checkpoint_path) {
  FARM_ASSIGN_OR_RETURN(SafetensorsHeader vae_header, ReadSafetensorsHeader(vae_path));
  const VaeShapes vae = ShapesOf(vae_header, /*ldm_prefix_only=*/false);
  FARM_ASSIGN_OR_RETURN(VaeShapes checkpoint, CheckpointVaeShapes(checkpoint_path));
  if (checkpoint.by_name.empty()) return farm::Status::Ok();  // the checkpoint check names that
  const std::string difference =
      vae.diffusers == checkpoint.diffusers ? CompareByName(vae, checkpoint) : CompareByShape(vae, checkpoint);
  if (difference.empty()) return farm::Status::Ok();
  return farm::InvalidArgument(vae_path + ": does not fit the VAE of the checkpoint " + checkpoint_path + ": " +
                               difference + "; expected a VAE of the checkpoint's architecture (for SD 1.5, "
                               "e.g. the ft-MSE VAE)");
}

}  // namespace farmctl
