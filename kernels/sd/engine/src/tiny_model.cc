#include "farm/sd/tiny_model.h"

#include <filesystem>
#include <system_error>

#include "farm/sd/checkpoint.h"
#include "farm/sd/controlnet_checkpoint.h"
#include "farm/sd/lora_key_map.h"
#include "farm/sd/random_weights.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/tiny_tokenizer.h"

namespace farm::sd {
namespace fs = std::filesystem;

Status WriteRandomCheckpoint(const std::string& path, const SdArchitecture& arch, uint64_t seed,
                             at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  SdWeights weights = RandomSdWeights(arch, seed, dtype);
  FARM_ASSIGN_OR_RETURN(TensorMap ldm, SdWeightsToLdm(weights));
  std::map<std::string, std::string> metadata = ArchitectureMetadata(arch);
  metadata["studiofarm.note"] = "random weights (seed " + std::to_string(seed) +
                                "): images from this model are not meaningful";
  return WriteSafetensors(path, ldm, metadata);
}

Status WriteRandomControlNet(const std::string& path, const SdArchitecture& arch,
                             const ControlNetArchitecture& controlnet, uint64_t seed,
                             at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  constexpr uint64_t kControlNetSeedOffset = 0xC0271;  // not the UNet's values under the same names
  TensorMap weights = RandomWeights(ControlNetWeightShapes(arch.unet, controlnet), seed + kControlNetSeedOffset, dtype);
  FARM_ASSIGN_OR_RETURN(TensorMap ldm, ControlNetToLdm(weights));
  std::map<std::string, std::string> metadata = ArchitectureMetadata(arch);
  metadata["studiofarm.note"] = "random ControlNet weights (seed " + std::to_string(seed) +
                                "): its guidance is not meaningful";
  return WriteSafetensors(path, ldm, metadata);
}

namespace {

bool IsAttentionProjection(const std::string& name) {
  static const char* kSuffixes[] = {".to_q.weight",   ".to_k.weight",   ".to_v.weight",
                                    ".to_out.0.weight", ".q_proj.weight", ".k_proj.weight",
                                    ".v_proj.weight", ".out_proj.weight"};
  for (const char* suffix : kSuffixes) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

// lora_down [rank, in] and lora_up [out, rank] for every projection of one model.
void AddLoraShapes(std::string_view prefix, const WeightShapes& model, int rank,
                   WeightShapes& out, std::vector<std::string>& modules) {
  for (const auto& [name, shape] : model) {
    if (shape.size() != 2 || !IsAttentionProjection(name)) continue;
    const std::string kohya =
        KohyaModuleName(prefix, std::string_view(name).substr(0, name.size() - 7));  // - ".weight"
    out[kohya + ".lora_down.weight"] = {rank, shape[1]};
    out[kohya + ".lora_up.weight"] = {shape[0], rank};
    modules.push_back(kohya);
  }
}

}  // namespace

Status WriteRandomLora(const std::string& path, const SdArchitecture& arch, uint64_t seed, int rank) {
  if (rank < 1) return InvalidArgument("LoRA rank must be >= 1");
  at::NoGradGuard no_grad;
  constexpr uint64_t kLoraSeedOffset = 0x10AA;  // not the model's values under related names
  WeightShapes shapes;
  std::vector<std::string> modules;
  AddLoraShapes(kLoraUnetPrefix, UNetWeightShapes(arch.unet), rank, shapes, modules);
  AddLoraShapes(kLoraTextEncoderPrefix, ClipTextWeightShapes(arch.text), rank, shapes, modules);
  TensorMap tensors = RandomWeights(shapes, seed + kLoraSeedOffset, at::kFloat);
  for (const std::string& module : modules) {
    tensors[module + ".alpha"] = at::scalar_tensor(static_cast<double>(rank), at::kFloat);
  }
  std::map<std::string, std::string> metadata = {
      {"ss_network_module", "networks.lora"},
      {"ss_network_dim", std::to_string(rank)},
      {"ss_network_alpha", std::to_string(rank)},
      {"studiofarm.note", "random LoRA (seed " + std::to_string(seed) + "): not trained"}};
  return WriteSafetensors(path, tensors, metadata);
}

StatusOr<TinyModelFiles> MakeTinyModel(const std::string& dir, uint64_t seed) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return InvalidArgument("cannot create " + dir + ": " + ec.message());
  TinyModelFiles files;
  files.checkpoint = (fs::path(dir) / "tiny-sd15.safetensors").string();
  files.tokenizer_dir = (fs::path(dir) / "tokenizer").string();
  const SdArchitecture arch = TinyArchitecture();
  FARM_RETURN_IF_ERROR(WriteRandomCheckpoint(files.checkpoint, arch, seed, at::kFloat));
  FARM_RETURN_IF_ERROR(WriteTinyTokenizerFiles(files.tokenizer_dir, arch.text.vocab));
  files.controlnet = (fs::path(dir) / "tiny-controlnet.safetensors").string();
  FARM_RETURN_IF_ERROR(
      WriteRandomControlNet(files.controlnet, arch, TinyControlNetArchitecture(), seed, at::kFloat));
  files.lora = (fs::path(dir) / "tiny-lora.safetensors").string();
  FARM_RETURN_IF_ERROR(WriteRandomLora(files.lora, arch, seed, 4));
  return files;
}

}  // namespace farm::sd
