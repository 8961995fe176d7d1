#include "farm/sd/tiny_model.h"

#include <filesystem>
#include <system_error>

#include "farm/sd/checkpoint.h"
#include "farm/sd/controlnet_checkpoint.h"
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
  return files;
}

}  // namespace farm::sd
