// The trainable LoRA of kohya sd-scripts networks/lora.py for SD 1.x, on our models.
//
// Targets (kohya's defaults): in the UNet every Linear and 1x1 Conv2d inside each
// transformer (Transformer2DModel: proj_in, proj_out, attn1/attn2 to_q/to_k/to_v/to_out.0,
// ff.net.0.proj, ff.net.2); in the text encoder every Linear of CLIPAttention (q/k/v/out_proj)
// and CLIPMLP (fc1, fc2). Names are kohya's (`lora_unet_...`, `lora_te_...`).
//
// Every lora_down/lora_up tensor is a view into ONE flat float32 parameter buffer, and its
// gradient a view into one flat gradient buffer, in kohya's parameter order (text encoder
// first, then the UNet in module registration order: down_blocks, up_blocks, mid_block;
// lora_down before lora_up). Data-parallel training reduces that one buffer per optimizer
// step, and the optimizer updates the flat buffers in place.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/layer_adapters.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/unet.h"

namespace farm::sd {

struct LoraNetworkOptions {
  int64_t rank = 4;
  double alpha = 1.0;        // scale = multiplier * alpha / rank
  double multiplier = 1.0;
  bool train_unet = true;
  bool train_text_encoder = true;
};

enum class LoraGroup { kTextEncoder = 0, kUnet = 1 };

struct LoraTargetModule {
  std::string kohya_name;  // "lora_unet_down_blocks_0_attentions_0_proj_in"
  std::string module;      // "down_blocks.0.attentions.0.proj_in"
  LoraGroup group;
  bool conv1x1 = false;
  int64_t in = 0, out = 0;
};

// One trainable tensor: <kohya_name>.lora_down.weight or .lora_up.weight.
struct LoraParam {
  std::string name;
  LoraGroup group;
  int64_t offset = 0;  // into the flat buffers, in elements
  int64_t numel = 0;
  at::Tensor value;    // leaf view of flat_params(), requires grad
};

// The modules a LoRA for these models targets, in kohya's parameter order.
std::vector<LoraTargetModule> KohyaLoraTargets(const UNet& unet, const ClipTextModel& text_encoder,
                                               const LoraNetworkOptions& options);

class LoraNetwork {
 public:
  // Allocates the flat buffers (zeros) for the targets of these models.
  static StatusOr<std::unique_ptr<LoraNetwork>> Create(const UNet& unet,
                                                       const ClipTextModel& text_encoder,
                                                       LoraNetworkOptions options);

  // kohya's initialisation: lora_down Kaiming-uniform (a = sqrt(5), i.e. U(+-1/sqrt(fan_in))),
  // lora_up zero; drawn from a CPU generator seeded with `seed`, modules in order.
  void InitKohya(uint64_t seed);

  // Copies lora_down/lora_up from kohya-named tensors. The file must hold exactly this
  // network's modules with the same shapes, and alpha (when stored) must equal options().alpha.
  Status Load(const TensorMap& kohya_tensors, const std::string& source);
  // Kohya-format tensors: down, up and alpha (float32 scalar) per module; copies.
  TensorMap ToKohyaTensors() const;

  // Attaches this network as adapters to the models (they then record autograd).
  void Attach(UNet* unet, ClipTextModel* text_encoder) const;

  // Gradients: Zero() before the first micro-step of an optimizer step; backward()
  // accumulates into flat_grads(). has_grad()[i] says whether params()[i] received a
  // gradient since Zero() (clip skip 2 leaves the last text-encoder layer without one,
  // and kohya/PyTorch then skip it in clipping and in the optimizer).
  void ZeroGrad();
  const std::vector<uint8_t>& has_grad() const { return *has_grad_; }

  const std::vector<LoraTargetModule>& modules() const { return modules_; }
  const std::vector<LoraParam>& params() const { return params_; }
  at::Tensor flat_params() const { return flat_params_; }
  at::Tensor flat_grads() const { return flat_grads_; }
  const LoraNetworkOptions& options() const { return options_; }
  double scale() const { return options_.multiplier * options_.alpha / options_.rank; }
  // Elements per group: text-encoder params come first in the flat buffers.
  int64_t group_numel(LoraGroup group) const;

 private:
  LoraNetwork() = default;
  LoraNetworkOptions options_;
  std::vector<LoraTargetModule> modules_;
  std::vector<LoraParam> params_;
  at::Tensor flat_params_, flat_grads_;
  std::shared_ptr<std::vector<uint8_t>> has_grad_;  // shared with the gradient hooks
};

}  // namespace farm::sd
