#include "farm/sd/checkpoint.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>

#include "farm/sd/safetensors.h"
#include "pickle_guard.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

// The VAE mid-block attention projections: 1x1 convs [C,C,1,1] in LDM files, linears
// [C,C] in diffusers.
bool IsVaeAttentionProjection(const std::string& diffusers_name) {
  for (const char* layer : {"to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight"}) {
    if (diffusers_name.ends_with(std::string("mid_block.attentions.0.") + layer)) return true;
  }
  return false;
}

TensorMap& ComponentMap(SdWeights& weights, SdComponent component) {
  switch (component) {
    case SdComponent::kUnet: return weights.unet;
    case SdComponent::kVae: return weights.vae;
    case SdComponent::kTextEncoder: return weights.text_encoder;
  }
  return weights.unet;
}

at::Tensor ToDtype(const at::Tensor& tensor, at::ScalarType dtype) {
  return at::isFloatingType(tensor.scalar_type()) ? tensor.to(dtype) : tensor;
}

StatusOr<at::Tensor> LdmTensorToDiffusers(const std::string& ldm_key, const DiffusersName& target,
                                          const at::Tensor& tensor, at::ScalarType dtype) {
  at::Tensor out = tensor;
  if (target.component == SdComponent::kVae && IsVaeAttentionProjection(target.name) && tensor.dim() != 2) {
    if (tensor.dim() != 4 || tensor.size(2) != 1 || tensor.size(3) != 1) {
      return InvalidArgument("tensor '" + ldm_key + "': shape " + c10::str(tensor.sizes()) +
                             ", expected a 1x1 convolution [C,C,1,1] or a linear [C,C]");
    }
    out = tensor.reshape({tensor.size(0), tensor.size(1)});
  }
  return ToDtype(out, dtype);
}

Status CheckDtype(at::ScalarType dtype) {
  if (at::isFloatingType(dtype)) return Status::Ok();
  return InvalidArgument(std::string("weights can only be loaded as a floating-point dtype, not ") +
                         c10::toString(dtype));
}

Status CheckComplete(const SdWeights& weights, const std::string& path) {
  for (SdComponent component : {SdComponent::kUnet, SdComponent::kVae, SdComponent::kTextEncoder}) {
    if (ComponentMap(const_cast<SdWeights&>(weights), component).empty()) {
      return InvalidArgument(path + ": no " + SdComponentName(component) + " weights (no key starts with '" +
                             LdmPrefix(component) + "'); is this an SD 1.5 checkpoint in the LDM layout?");
    }
  }
  return Status::Ok();
}

StatusOr<SdWeights> LoadLdmFile(const std::string& path, at::ScalarType dtype) {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  std::vector<std::string> keys;
  for (const TensorInfo& info : file->tensors()) keys.push_back(info.name);
  StatusOr<LdmNameMap> names = MapLdmNames(keys);
  if (!names.ok()) return names.status().WithContext(path);

  SdWeights weights;
  weights.ignored_keys = names->ignored;
  for (const auto& [key, target] : names->mapped) {
    // One tensor at a time: the stored copy is dropped as soon as it is converted.
    FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(key));
    StatusOr<at::Tensor> converted = LdmTensorToDiffusers(key, target, stored, dtype);
    if (!converted.ok()) return converted.status().WithContext(path);
    ComponentMap(weights, target.component).emplace(target.name, std::move(converted).value());
  }
  FARM_RETURN_IF_ERROR(CheckComplete(weights, path));
  return weights;
}

// Folders written by older diffusers versions name the VAE attention differently.
std::string ModernVaeName(const std::string& name) {
  static const std::pair<const char*, const char*> kRenames[] = {
      {"mid_block.attentions.0.query.", "mid_block.attentions.0.to_q."},
      {"mid_block.attentions.0.key.", "mid_block.attentions.0.to_k."},
      {"mid_block.attentions.0.value.", "mid_block.attentions.0.to_v."},
      {"mid_block.attentions.0.proj_attn.", "mid_block.attentions.0.to_out.0."}};
  for (const auto& [old_name, new_name] : kRenames) {
    const size_t at = name.find(old_name);
    if (at != std::string::npos) return name.substr(0, at) + new_name + name.substr(at + std::strlen(old_name));
  }
  return name;
}

// unet/diffusion_pytorch_model.safetensors etc.; the .fp16 variant when only it exists.
StatusOr<std::string> FindComponentFile(const fs::path& folder, SdComponent component) {
  const std::string stem = component == SdComponent::kTextEncoder ? "model" : "diffusion_pytorch_model";
  const fs::path dir = folder / SdComponentName(component);
  for (const std::string& name : {stem + ".safetensors", stem + ".fp16.safetensors"}) {
    if (fs::is_regular_file(dir / name)) return (dir / name).string();
  }
  const std::string pickle_name = component == SdComponent::kTextEncoder ? "pytorch_model.bin" : stem + ".bin";
  if (fs::exists(dir / pickle_name)) return RefusePickleCheckpoint((dir / pickle_name).string());
  return NotFound(folder.string() + ": diffusers folder lacks " + SdComponentName(component) + "/" + stem +
                  ".safetensors");
}

StatusOr<SdWeights> LoadDiffusersFolder(const std::string& path, at::ScalarType dtype) {
  SdWeights weights;
  for (SdComponent component : {SdComponent::kUnet, SdComponent::kVae, SdComponent::kTextEncoder}) {
    FARM_ASSIGN_OR_RETURN(std::string file_path, FindComponentFile(path, component));
    FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(file_path));
    TensorMap& out = ComponentMap(weights, component);
    for (const TensorInfo& info : file->tensors()) {
      if (info.name.ends_with("embeddings.position_ids")) {
        weights.ignored_keys.push_back(std::string(SdComponentName(component)) + "/" + info.name);
        continue;
      }
      FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(info.name));
      const std::string name = component == SdComponent::kVae ? ModernVaeName(info.name) : info.name;
      DiffusersName target{component, name};
      StatusOr<at::Tensor> converted = LdmTensorToDiffusers(info.name, target, stored, dtype);
      if (!converted.ok()) return converted.status().WithContext(file_path);
      out.emplace(name, std::move(converted).value());
    }
    if (out.empty()) return InvalidArgument(file_path + ": holds no tensors");
  }
  return weights;
}

bool IsVaeKey(const std::string& key) {
  for (const char* root : {"encoder.", "decoder.", "quant_conv.", "post_quant_conv."}) {
    if (key.starts_with(root)) return true;
  }
  return false;
}

// The diffusers layout names blocks down_blocks/up_blocks/mid_block; the LDM one down/up/mid.
bool IsDiffusersVaeLayout(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    if (key.find(".down_blocks.") != std::string::npos || key.find(".up_blocks.") != std::string::npos ||
        key.find(".mid_block.") != std::string::npos) {
      return true;
    }
  }
  return false;
}

StatusOr<TensorMap> LoadVaeTensors(const std::string& path, at::ScalarType dtype) {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  const std::string ldm_prefix = LdmPrefix(SdComponent::kVae);
  std::vector<std::string> keys;               // without the first_stage_model. prefix
  std::map<std::string, std::string> file_key;  // ... -> the key in the file
  for (const TensorInfo& info : file->tensors()) {
    const std::string& key = info.name;
    if (key.starts_with(LdmPrefix(SdComponent::kUnet)) || key.starts_with(LdmPrefix(SdComponent::kTextEncoder))) {
      return InvalidArgument(path + ": key '" + key + "' is not a VAE weight; give a full checkpoint as the "
                             "checkpoint and a VAE-only file as the VAE");
    }
    keys.push_back(key.starts_with(ldm_prefix) ? key.substr(ldm_prefix.size()) : key);
    file_key[keys.back()] = key;
  }

  TensorMap out;
  if (IsDiffusersVaeLayout(keys)) {
    for (const std::string& key : keys) {
      if (!IsVaeKey(key)) continue;
      FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(file_key.at(key)));
      const std::string name = ModernVaeName(key);
      StatusOr<at::Tensor> converted = LdmTensorToDiffusers(key, {SdComponent::kVae, name}, stored, dtype);
      if (!converted.ok()) return converted.status().WithContext(path);
      out.emplace(name, std::move(converted).value());
    }
  } else {
    std::vector<std::string> ldm_keys;
    for (const std::string& key : keys) {
      if (IsVaeKey(key)) ldm_keys.push_back(ldm_prefix + key);
    }
    StatusOr<LdmNameMap> names = MapLdmNames(ldm_keys);
    if (!names.ok()) return names.status().WithContext(path);
    for (const auto& [ldm_key, target] : names->mapped) {
      FARM_ASSIGN_OR_RETURN(at::Tensor stored, file->Load(file_key.at(ldm_key.substr(ldm_prefix.size()))));
      StatusOr<at::Tensor> converted = LdmTensorToDiffusers(ldm_key, target, stored, dtype);
      if (!converted.ok()) return converted.status().WithContext(path);
      out.emplace(target.name, std::move(converted).value());
    }
  }
  if (out.empty()) {
    return InvalidArgument(path + ": no VAE weights (no key starts with 'encoder.', 'decoder.', 'quant_conv.' or "
                           "'post_quant_conv.', with or without '" + ldm_prefix + "')");
  }
  return out;
}

}  // namespace

StatusOr<TensorMap> LoadVaeFile(const std::string& path, at::ScalarType dtype) {
  FARM_RETURN_IF_ERROR(CheckDtype(dtype));
  try {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return NotFound(path + ": no such VAE file");
    return LoadVaeTensors(path, dtype);
  } catch (const std::exception& e) {
    return Internal(path + ": " + e.what());
  }
}

Status ReplaceVae(SdWeights& weights, TensorMap vae) {
  for (const auto& [name, tensor] : weights.vae) {
    const auto it = vae.find(name);
    if (it == vae.end()) return InvalidArgument("VAE file lacks '" + name + "' that the checkpoint's VAE has");
    if (!it->second.sizes().equals(tensor.sizes())) {
      return InvalidArgument("VAE tensor '" + name + "': shape " + c10::str(it->second.sizes()) +
                             ", the checkpoint's VAE has " + c10::str(tensor.sizes()));
    }
  }
  for (const auto& [name, tensor] : vae) {
    if (!weights.vae.count(name)) return InvalidArgument("VAE file has '" + name + "' that the checkpoint's VAE lacks");
  }
  weights.vae = std::move(vae);
  return Status::Ok();
}

StatusOr<SdWeights> LoadCheckpoint(const std::string& path, at::ScalarType dtype) {
  FARM_RETURN_IF_ERROR(CheckDtype(dtype));
  try {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return LoadDiffusersFolder(path, dtype);
    if (!fs::exists(path, ec)) return NotFound(path + ": no such file or folder");
    return LoadLdmFile(path, dtype);
  } catch (const std::exception& e) {
    return Internal(path + ": " + e.what());
  }
}

StatusOr<SdWeights> SdWeightsFromLdm(const TensorMap& ldm, at::ScalarType dtype) {
  FARM_RETURN_IF_ERROR(CheckDtype(dtype));
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : ldm) keys.push_back(key);
  FARM_ASSIGN_OR_RETURN(LdmNameMap names, MapLdmNames(keys));
  SdWeights weights;
  weights.ignored_keys = names.ignored;
  try {
    for (const auto& [key, target] : names.mapped) {
      FARM_ASSIGN_OR_RETURN(at::Tensor converted, LdmTensorToDiffusers(key, target, ldm.at(key), dtype));
      ComponentMap(weights, target.component).emplace(target.name, std::move(converted));
    }
  } catch (const std::exception& e) {
    return Internal(e.what());
  }
  return weights;
}

StatusOr<TensorMap> ComponentToLdm(SdComponent component, const TensorMap& diffusers) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : diffusers) names.push_back(name);
  FARM_ASSIGN_OR_RETURN(auto ldm_names, MapDiffusersNamesToLdm(component, names));
  TensorMap out;
  try {
    for (const auto& [name, tensor] : diffusers) {
      at::Tensor ldm = tensor;
      if (component == SdComponent::kVae && IsVaeAttentionProjection(name) && tensor.dim() == 2) {
        ldm = tensor.reshape({tensor.size(0), tensor.size(1), 1, 1});
      }
      out.emplace(ldm_names.at(name), ldm);
    }
  } catch (const std::exception& e) {
    return Internal(e.what());
  }
  return out;
}

StatusOr<TensorMap> SdWeightsToLdm(const SdWeights& weights) {
  TensorMap out;
  for (SdComponent component : {SdComponent::kUnet, SdComponent::kVae, SdComponent::kTextEncoder}) {
    FARM_ASSIGN_OR_RETURN(TensorMap part, ComponentToLdm(component, ComponentMap(const_cast<SdWeights&>(weights), component)));
    out.merge(part);
  }
  return out;
}

}  // namespace farm::sd
