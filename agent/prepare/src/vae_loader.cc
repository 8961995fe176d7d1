#include "vae_loader.h"

#include <filesystem>
#include <string_view>

#include "farm/sd/checkpoint.h"
#include "farm/sd/model_hints.h"
#include "farm/sd/safetensors.h"

namespace farm::agent::internal {

StatusOr<sd::Vae> LoadCheckpointVae(const std::string& checkpoint) {
  std::error_code ec;
  if (std::filesystem::is_directory(checkpoint, ec)) {
    return InvalidArgument(checkpoint +
                           ": a folder; the latent cache is keyed by a checkpoint file's SHA-256, "
                           "so give a single .safetensors checkpoint");
  }
  FARM_ASSIGN_OR_RETURN(sd::SdArchitecture arch, sd::ReadModelHints(checkpoint));
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<sd::SafetensorsFile> file, sd::SafetensorsFile::Open(checkpoint));
  const std::string_view prefix = sd::LdmPrefix(sd::SdComponent::kVae);
  sd::TensorMap ldm;
  for (const sd::TensorInfo& info : file->tensors()) {
    if (info.name.compare(0, prefix.size(), prefix) != 0) continue;
    FARM_ASSIGN_OR_RETURN(at::Tensor tensor, file->Load(info.name));
    ldm.emplace(info.name, std::move(tensor));
  }
  if (ldm.empty()) {
    return InvalidArgument(checkpoint + ": no " + std::string(prefix) +
                           "* tensors (not an SD 1.5 checkpoint in the LDM single-file layout)");
  }
  FARM_ASSIGN_OR_RETURN(sd::SdWeights weights, sd::SdWeightsFromLdm(ldm, at::kFloat));
  sd::VaeOptions options;
  options.norm_groups = arch.vae.norm_groups;
  StatusOr<sd::Vae> vae = sd::Vae::Create(std::move(weights.vae), options);
  if (!vae.ok()) return vae.status().WithContext(checkpoint + ": vae");
  return vae;
}

}  // namespace farm::agent::internal
