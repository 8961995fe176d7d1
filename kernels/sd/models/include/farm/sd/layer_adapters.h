// Low-rank additions to a model's Linear and 1x1 Conv2d layers, applied at forward time
// (LoRA training, kohya networks/lora.py LoRAModule.forward):
//   y = layer(x) + up(down(x)) * scale,   scale = multiplier * alpha / rank
// Inference merges LoRAs into the weights instead (lora_merge.h); adapters keep the base
// weights frozen and untouched so the LoRA tensors can be trained.
//
// A model with adapters attached no longer forces no-grad mode: its forward records the
// autograd graph whenever the caller has grad mode on (the default), so gradients reach
// the adapters' tensors. Without adapters, forwards run without autograd as before.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace farm::sd {

struct LayerAdapter {
  at::Tensor down;     // [rank, in] for a Linear, [rank, in, 1, 1] for a 1x1 Conv2d
  at::Tensor up;       // [out, rank], or [out, rank, 1, 1]
  double scale = 1.0;  // multiplier * alpha / rank
};

// By module path (the weight key minus ".weight"), e.g.
// "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q".
using LayerAdapters = std::map<std::string, LayerAdapter>;

}  // namespace farm::sd
