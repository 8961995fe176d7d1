// Merging LoRAs into model weights, in place:
//   W' = W + multiplier * (alpha / rank) * (up @ down)
// linear: up [out,r] @ down [r,in]; 1x1 conv: the same on the squeezed 2-D tensors,
// reshaped to [out,in,1,1]; kxk conv (kohya conv_dim): up[:,:,0,0] @ down.flatten(1),
// reshaped to [out,in,k,k]. The product is computed in float32 on the weight's device;
// fp16/bf16 weights get W' = round(float(W) + delta) (one rounding, as kohya's merge_to
// and diffusers' fuse_lora do). LyCORIS LoHa and LoKr modules replace up @ down by their
// own product (src/lycoris_module.h, A1111's math), reshaped to the weight when it
// flattens a conv's [in, kh, kw].
//
// The tensors of the TensorMaps are modified in place (same storage), so a model that
// holds the TensorMap sees the merged weights without reloading.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/checkpoint.h"
#include "farm/sd/lora_file.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

// One model part a LoRA can target; `weights` must outlive the merge handle.
struct LoraComponent {
  std::string name;     // "unet", used in reports
  std::string prefix;   // kohya prefix, "lora_unet"
  TensorMap* weights = nullptr;
};

// weights.unet as ("unet", "lora_unet") and weights.text_encoder as ("text_encoder", "lora_te").
std::vector<LoraComponent> SdLoraComponents(SdWeights& weights);

struct LoraApplication {
  const LoraFile* lora = nullptr;  // read during MergeLoras only
  double multiplier = 1.0;
};

struct LoraMergeOptions {
  // Strict (the default): any module that cannot be applied (unknown name, shape that
  // does not fit its weight, any problem of the file) fails the whole merge with every
  // such module named, and no weight is changed. Not strict: those modules are skipped
  // and listed in LoraMergeReport::skipped; the rest is merged.
  bool strict = true;
};

struct LoraMergeReport {
  struct Applied {
    std::string source;      // LoRA file
    std::string module;      // kohya module name
    std::string component;   // "unet"
    std::string weight_key;  // diffusers weight key
  };
  std::vector<Applied> applied;    // in merge order
  std::vector<LoraIssue> skipped;  // only when not strict
};

// Owns the original value of every weight a merge touched and puts it back on
// Unmerge() or destruction. Originals are copies, not recomputed by subtracting the
// delta: W + d - d is not W in floating point, and repeated merge/unmerge for every
// render would drift the base model. They are kept in host memory, so a merged fp16
// model on a GPU does not need its touched weights twice in device memory.
class MergedLoras {
 public:
  MergedLoras() = default;
  MergedLoras(MergedLoras&& other) noexcept;
  MergedLoras& operator=(MergedLoras&& other) noexcept;  // unmerges this one first
  MergedLoras(const MergedLoras&) = delete;
  MergedLoras& operator=(const MergedLoras&) = delete;
  ~MergedLoras();  // Unmerge(), errors ignored

  // Restores every touched weight bit for bit; afterwards this handle holds nothing.
  Status Unmerge();
  // Keeps the merged weights for good and frees the saved originals.
  void KeepMerged();

  // Weights whose originals are held (0 after Unmerge/KeepMerged).
  size_t saved_weights() const;
  const LoraMergeReport& report() const;

 private:
  friend StatusOr<MergedLoras> MergeLoras(const std::vector<LoraComponent>&,
                                          const std::vector<LoraApplication>&,
                                          const LoraMergeOptions&);
  struct SavedWeight {
    at::Tensor live;      // the TensorMap's tensor (shares its storage)
    at::Tensor original;  // CPU copy, same dtype
  };
  std::vector<SavedWeight> saved_;
  LoraMergeReport report_;
};

// Merges every LoRA with its own multiplier, in the given order. On error nothing is
// changed.
StatusOr<MergedLoras> MergeLoras(const std::vector<LoraComponent>& components,
                                 const std::vector<LoraApplication>& loras,
                                 const LoraMergeOptions& options = {});
StatusOr<MergedLoras> MergeLoras(SdWeights& weights, const std::vector<LoraApplication>& loras,
                                 const LoraMergeOptions& options = {});

// The shape of a module's product: [out, in] or [out, in, kh, kw] (a LoHa/LoKr product
// may be [out, in * kh * kw] for a conv weight).
std::vector<int64_t> LoraWeightShape(const LoraModule& module);

// multiplier * (alpha / rank) * (up @ down) (or the LoHa/LoKr product) in float32 on
// `device`, shaped by LoraWeightShape. The module must be well-formed (as LoraFile::modules are).
at::Tensor LoraDelta(const LoraModule& module, double multiplier, const at::Device& device);

}  // namespace farm::sd
