// Writes a trained LoRA as kohya sd-scripts does (networks/lora.py save_weights): the
// kohya tensor names (lora_file.h), the ss_* training metadata (kohya_metadata.h) and
// sshs_model_hash / sshs_legacy_hash (kohya_hashes.h), in the byte layout of Python's
// safetensors, so front ends list the file by the same name and hash as a kohya-trained
// one.
#pragma once

#include <map>
#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/kohya_hashes.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

// Computes the sshs hashes of `tensors` with the ss_* entries of `metadata`, adds them
// (replacing any sshs_* values given) and writes every entry of `metadata` with the
// tensors to `path` in the Python layout (SafetensorsLayout::kPython), through a
// temporary file renamed into place. Tensors are written in their dtype (kohya converts
// every tensor, alpha included, to its --save_precision before saving; do so first).
//
// Refuses tensors that do not all form well-formed LoRA modules (LoraFromTensors finds
// no problem), so a file written here always loads. Returns the hashes written.
StatusOr<KohyaLoraHashes> WriteKohyaLora(const std::string& path, const TensorMap& tensors,
                                         const std::map<std::string, std::string>& metadata);

}  // namespace farm::sd
