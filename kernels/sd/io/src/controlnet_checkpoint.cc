#include "farm/sd/controlnet_checkpoint.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "farm/sd/safetensors.h"
#include "pickle_guard.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

bool StartsWithAny(const std::string& key, std::initializer_list<const char*> prefixes) {
  for (const char* prefix : prefixes) {
    if (key.starts_with(prefix)) return true;
  }
  return false;
}

enum class Layout { kDiffusers, kOriginal, kUnknown };

Layout DetectLayout(const std::vector<std::string>& keys) {
  bool original = false;
  for (const std::string& key : keys) {
    if (StartsWithAny(key, {"controlnet_cond_embedding.", "controlnet_down_blocks.", "controlnet_mid_block."})) {
      return Layout::kDiffusers;
    }
    original = original || StartsWithAny(key, {kControlNetLdmPrefix, "input_hint_block.", "zero_convs.",
                                               "middle_block_out."});
  }
  return original ? Layout::kOriginal : Layout::kUnknown;
}

at::Tensor ToDtype(const at::Tensor& tensor, at::ScalarType dtype) {
  return at::isFloatingType(tensor.scalar_type()) ? tensor.to(dtype) : tensor;
}

// diffusion_pytorch_model.safetensors (or its .fp16 variant) inside a diffusers folder.
StatusOr<std::string> FindFolderFile(const fs::path& folder) {
  for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"}) {
    if (fs::is_regular_file(folder / name)) return (folder / name).string();
  }
  if (fs::exists(folder / "diffusion_pytorch_model.bin")) {
    return RefusePickleCheckpoint((folder / "diffusion_pytorch_model.bin").string());
  }
  return NotFound(folder.string() + ": a diffusers ControlNet folder needs diffusion_pytorch_model.safetensors");
}

StatusOr<ControlNetCheckpoint> LoadFile(const std::string& path, at::ScalarType dtype) {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  std::vector<std::string> keys;
  for (const TensorInfo& info : file->tensors()) keys.push_back(info.name);
  ControlNetCheckpoint out;
  out.metadata = file->metadata();
  switch (DetectLayout(keys)) {
    case Layout::kUnknown:
      return InvalidArgument(path + ": not a ControlNet (no control_model.*, input_hint_block.* or "
                             "controlnet_cond_embedding.* tensors among its " +
                             std::to_string(keys.size()) + ")");
    case Layout::kDiffusers:
      for (const std::string& key : keys) {
        FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(key));
        out.weights.emplace(key, ToDtype(stored, dtype));
      }
      return out;
    case Layout::kOriginal:
      break;
  }
  out.original_layout = true;
  StatusOr<ControlNetNameMap> names = MapControlNetLdmNames(keys);
  if (!names.ok()) return names.status().WithContext(path);
  out.ignored_keys = names->ignored;
  for (const auto& [key, name] : names->mapped) {
    // One tensor at a time: the stored copy is dropped as soon as it is converted.
    FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(key));
    out.weights.emplace(name, ToDtype(stored, dtype));
  }
  return out;
}

}  // namespace

StatusOr<ControlNetCheckpoint> LoadControlNetCheckpoint(const std::string& path, at::ScalarType dtype) {
  if (!at::isFloatingType(dtype)) {
    return InvalidArgument(std::string("ControlNet weights can only be loaded as a floating-point dtype, not ") +
                           c10::toString(dtype));
  }
  try {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      FARM_ASSIGN_OR_RETURN(std::string file, FindFolderFile(path));
      return LoadFile(file, dtype);
    }
    if (!fs::exists(path, ec)) return NotFound(path + ": no such ControlNet file or folder");
    return LoadFile(path, dtype);
  } catch (const std::exception& e) {
    return Internal(path + ": " + e.what());
  }
}

StatusOr<TensorMap> ControlNetToLdm(const TensorMap& diffusers) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : diffusers) names.push_back(name);
  FARM_ASSIGN_OR_RETURN(auto ldm_names, MapControlNetDiffusersNamesToLdm(names));
  TensorMap out;
  for (const auto& [name, tensor] : diffusers) out.emplace(ldm_names.at(name), tensor);
  return out;
}

}  // namespace farm::sd
