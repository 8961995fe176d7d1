// The CLIP text encoder of SD 1.5 (transformers CLIPTextModel, ViT-L/14 text tower):
// token + position embeddings, pre-LayerNorm transformer layers with causal
// self-attention and quick_gelu MLPs, final LayerNorm.
//
// Weights are diffusers/transformers names ("text_model.encoder.layers.0.mlp.fc1.weight")
// as LoadCheckpoint returns them; every size is read from their shapes. The model owns
// its TensorMap and looks weights up at every forward, so a LoRA merged into weights()
// in place (or by replacing a tensor of the same shape) takes effect immediately.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/layer_adapters.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

struct ClipTextOptions {
  // Attention heads; not derivable from shapes. 0 = hidden / 64 (ViT-L/14: 768 / 64 = 12).
  int64_t num_heads = 0;
  double layer_norm_eps = 1e-5;
};

class ClipTextModel {
 public:
  // Checks that `weights` is exactly a CLIP text model (missing, unexpected and
  // mis-shaped tensors are listed by name in one error). A stray
  // "text_model.embeddings.position_ids" buffer is dropped.
  static StatusOr<ClipTextModel> Create(TensorMap weights, ClipTextOptions options = {});

  // ids [B, T] (int64, T <= max_positions) -> [B, T, hidden]:
  // final_layer_norm(output of layer num_layers - clip_skip); clip_skip 1 = last layer
  // (the usual last_hidden_state), 2 = penultimate (A1111 "Clip skip 2").
  StatusOr<at::Tensor> Forward(const at::Tensor& input_ids, int clip_skip = 1) const;

  // The token embedding lookup of ids [B, T] -> [B, T, hidden] (before position
  // embeddings), in the model's dtype and device: where textual-inversion vectors replace
  // rows before ForwardEmbeddings.
  StatusOr<at::Tensor> TokenEmbeddings(const at::Tensor& input_ids) const;
  // Forward from token embeddings [B, T, hidden] instead of ids: position embeddings are
  // added, then the layers as Forward. Forward(ids) equals
  // ForwardEmbeddings(TokenEmbeddings(ids)) bit for bit.
  StatusOr<at::Tensor> ForwardEmbeddings(const at::Tensor& token_embeddings, int clip_skip = 1) const;

  // transformers' hidden_states: [0] = embeddings, [i] = output of layer i - 1, no final
  // LayerNorm; num_layers + 1 tensors.
  StatusOr<std::vector<at::Tensor>> HiddenStates(const at::Tensor& input_ids) const;

  int64_t hidden_size() const { return hidden_; }
  int64_t num_layers() const { return layers_; }
  int64_t num_heads() const { return heads_; }
  int64_t intermediate_size() const { return intermediate_; }
  int64_t vocab_size() const { return vocab_; }
  int64_t max_positions() const { return positions_; }

  // The weights, by diffusers name; mutate in place to merge LoRAs.
  TensorMap& weights() { return weights_; }
  const TensorMap& weights() const { return weights_; }
  // Module paths of every weight (key minus ".weight"), e.g.
  // "text_model.encoder.layers.5.self_attn.out_proj".
  std::vector<std::string> ModuleNames() const;

  // Attaches LoRA training adapters (null detaches them); see layer_adapters.h.
  void SetAdapters(std::shared_ptr<const LayerAdapters> adapters);
  const LayerAdapters* adapters() const { return adapters_.get(); }

  // Gradient checkpointing for training (off by default): while a forward records
  // autograd, each encoder layer saves only its inputs and recomputes its activations
  // during backward (as UNet::SetGradientCheckpointing). Inference is unaffected.
  void SetGradientCheckpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }

 private:
  ClipTextModel() = default;
  // Embeddings then layers [0, last_layer); hidden states appended when `all` is given.
  at::Tensor Encode(const at::Tensor& ids, int64_t layer_count, std::vector<at::Tensor>* all) const;
  at::Tensor EncodeEmbedded(const at::Tensor& token_embeddings, int64_t layer_count,
                            std::vector<at::Tensor>* all) const;
  Status CheckIds(const at::Tensor& ids) const;

  TensorMap weights_;
  std::shared_ptr<const LayerAdapters> adapters_;
  bool gradient_checkpointing_ = false;
  double eps_ = 1e-5;
  int64_t hidden_ = 0, layers_ = 0, heads_ = 0, intermediate_ = 0, vocab_ = 0, positions_ = 0;
};

}  // namespace farm::sd
