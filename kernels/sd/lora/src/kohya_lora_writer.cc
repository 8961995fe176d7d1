#include "farm/sd/kohya_lora_writer.h"

#include "farm/sd/lora_file.h"
#include "farm/sd/safetensors.h"

namespace farm::sd {

StatusOr<KohyaLoraHashes> WriteKohyaLora(const std::string& path, const TensorMap& tensors,
                                         const std::map<std::string, std::string>& metadata) {
  if (tensors.empty()) return InvalidArgument(path + ": no LoRA tensors to write");
  FARM_ASSIGN_OR_RETURN(LoraFile lora, LoraFromTensors(tensors, path));
  if (!lora.problems.empty()) {
    std::string message = path + ": not written: " + std::to_string(lora.problems.size()) +
                          " part(s) do not form kohya LoRA modules; first: " + FormatLoraIssue(lora.problems.front());
    return InvalidArgument(message);
  }
  // The hashes see only the ss_* entries, never sshs_* ones from an earlier save.
  FARM_ASSIGN_OR_RETURN(KohyaLoraHashes hashes, PrecalculateSafetensorsHashes(tensors, metadata));
  std::map<std::string, std::string> written = metadata;
  written["sshs_model_hash"] = hashes.model_hash;
  written["sshs_legacy_hash"] = hashes.legacy_hash;
  FARM_RETURN_IF_ERROR(WriteSafetensors(path, tensors, written, SafetensorsLayout::kPython));
  return hashes;
}

}  // namespace farm::sd
