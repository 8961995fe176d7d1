#include "layers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace farm::sd {

const at::Tensor& Weights::operator()(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) throw std::out_of_range("weight " + name + " was removed from the model");
  return it->second;
}

const LayerAdapter* Weights::Adapter(const std::string& module) const {
  if (adapters_ == nullptr) return nullptr;
  auto it = adapters_->find(module);
  return it == adapters_->end() ? nullptr : &it->second;
}

bool RecordsGradient(const at::Tensor& x) { return at::GradMode::is_enabled() && x.requires_grad(); }

at::Tensor SiluInPlace(at::Tensor x) { return RecordsGradient(x) ? at::silu(x) : at::silu_(x); }

void ConvertConvWeightsToChannelsLast(TensorMap* weights) {
  for (auto& [name, tensor] : *weights) {
    if (tensor.dim() == 4) tensor = tensor.contiguous(at::MemoryFormat::ChannelsLast);
  }
}

at::Tensor ChannelsLast(const at::Tensor& x) { return x.contiguous(at::MemoryFormat::ChannelsLast); }

at::Tensor Linear(const Weights& w, const std::string& prefix, const at::Tensor& x) {
  at::Tensor weight = w(prefix + ".weight");
  if (weight.dim() == 4) weight = weight.flatten(1);  // a 1x1 conv stored for a linear
  const std::string bias_name = prefix + ".bias";
  at::Tensor y = at::linear(x, weight, w.Has(bias_name) ? w(bias_name) : at::Tensor());
  if (const LayerAdapter* lora = w.Adapter(prefix)) {
    // fp32 LoRA tensors on fp16 weights (CUDA): the product runs in the layer's dtype and
    // the cast is part of the graph, so gradients still reach the fp32 tensors.
    at::Tensor down = lora->down.dim() == 4 ? lora->down.flatten(1) : lora->down;
    at::Tensor up = lora->up.dim() == 4 ? lora->up.flatten(1) : lora->up;
    if (down.scalar_type() != x.scalar_type()) {
      down = down.to(x.scalar_type());
      up = up.to(x.scalar_type());
    }
    y.add_(at::linear(at::linear(x, down), up), lora->scale);
  }
  return y;
}

at::Tensor Conv2d(const Weights& w, const std::string& prefix, const at::Tensor& x,
                  int64_t stride, int64_t padding) {
  at::Tensor y = at::conv2d(x, w(prefix + ".weight"), w(prefix + ".bias"), {stride, stride},
                            {padding, padding});
  if (const LayerAdapter* lora = w.Adapter(prefix)) {
    // Only 1x1 convolutions carry adapters (kohya's default targets). Added in place so the
    // sum keeps the layer output's memory format (channels-last), and with it the kernels
    // and summation order of every later layer.
    const at::ScalarType type = x.scalar_type();
    y.add_(at::conv2d(at::conv2d(x, lora->down.to(type), {}, {stride, stride}), lora->up.to(type)), lora->scale);
  }
  return y;
}

at::Tensor GroupNorm(const Weights& w, const std::string& prefix, const at::Tensor& x,
                     GroupNormConfig norm) {
  return at::group_norm(x, norm.groups, w(prefix + ".weight"), w(prefix + ".bias"), norm.eps);
}

at::Tensor LayerNorm(const Weights& w, const std::string& prefix, const at::Tensor& x, double eps) {
  return at::layer_norm(x, {x.size(-1)}, w(prefix + ".weight"), w(prefix + ".bias"), eps);
}

at::Tensor ResnetBlock(const Weights& w, const std::string& prefix, const at::Tensor& x,
                       const at::Tensor& temb_silu, GroupNormConfig norm) {
  at::Tensor h = SiluInPlace(GroupNorm(w, prefix + ".norm1", x, norm));
  h = Conv2d(w, prefix + ".conv1", h);
  if (temb_silu.defined()) {
    h.add_(Linear(w, prefix + ".time_emb_proj", temb_silu).unsqueeze(-1).unsqueeze(-1));
  }
  h = SiluInPlace(GroupNorm(w, prefix + ".norm2", h, norm));
  h = Conv2d(w, prefix + ".conv2", h);
  const std::string shortcut = prefix + ".conv_shortcut";
  if (w.Has(shortcut + ".weight")) return h.add_(Conv2d(w, shortcut, x, 1, 0));
  return h.add_(x);
}

namespace {
// [B, N, H*d] -> [B*H, N, d]
at::Tensor SplitHeads(const at::Tensor& x, int64_t heads) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2) / heads;
  return x.reshape({b, n, heads, d}).permute({0, 2, 1, 3}).reshape({b * heads, n, d});
}

// Bound on one float32 score block. A 4096-token self-attention would otherwise hold
// B*heads*N*N scores at once; blocks this small also stay in the allocator's heap
// instead of being mapped and zero-filled afresh by the kernel for every block.
constexpr int64_t kMaxScoreBytes = int64_t{16} << 20;

// Reassembles attention output blocks (made group block by group block, row block by row
// block within each) into [groups, n, d].
at::Tensor StackBlocks(const std::vector<at::Tensor>& blocks, int64_t groups, int64_t n,
                       int64_t per_group, int64_t rows) {
  if (blocks.size() == 1) return blocks[0];
  if (rows == n) return at::cat(blocks, 0);  // whole heads per block
  std::vector<at::Tensor> per_head;
  const int64_t row_blocks = (n + rows - 1) / rows;
  for (int64_t g = 0; g < groups; g += per_group) {
    const auto first = blocks.begin() + (g / per_group) * row_blocks;
    per_head.push_back(at::cat(std::vector<at::Tensor>(first, first + row_blocks), 1));
  }
  return at::cat(per_head, 0);
}
}  // namespace

at::Tensor MultiHeadAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              int64_t heads, const at::Tensor& additive_mask) {
  const int64_t b = q.size(0), n = q.size(1), c = q.size(2), m = k.size(1);
  TORCH_CHECK(c % heads == 0, "attention width ", c, " is not divisible by ", heads, " heads");
  const double scale = 1.0 / std::sqrt(static_cast<double>(c / heads));
  at::Tensor qh = SplitHeads(q * scale, heads);
  at::Tensor kt = SplitHeads(k, heads).transpose(1, 2);
  at::Tensor vh = SplitHeads(v, heads);
  const int64_t groups = b * heads;
  const int64_t row_bytes = std::max<int64_t>(1, m * 4);
  // Whole heads per block when they fit, else blocks of query rows within one head:
  // softmax is per row, so the result does not depend on the blocking.
  const int64_t rows = std::clamp<int64_t>(kMaxScoreBytes / row_bytes, 1, n);
  const int64_t per_group = rows == n ? std::max<int64_t>(1, kMaxScoreBytes / (row_bytes * n)) : 1;
  const bool autograd = RecordsGradient(q) || RecordsGradient(k) || RecordsGradient(v);
  std::vector<at::Tensor> blocks;  // with autograd: bmm_out cannot be differentiated
  at::Tensor out = autograd ? at::Tensor() : at::empty({groups, n, c / heads}, q.options());
  for (int64_t g0 = 0; g0 < groups; g0 += per_group) {
    const int64_t g1 = std::min(groups, g0 + per_group);
    at::Tensor k_block = kt.slice(0, g0, g1), v_block = vh.slice(0, g0, g1);
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
      const int64_t r1 = std::min(n, r0 + rows);
      at::Tensor scores = at::bmm(qh.slice(0, g0, g1).slice(1, r0, r1), k_block);
      if (additive_mask.defined()) {
        const bool per_row = additive_mask.dim() >= 2 && additive_mask.size(-2) == n;
        scores.add_(per_row ? additive_mask.slice(-2, r0, r1) : additive_mask);
      }
      at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());
      if (autograd) {
        blocks.push_back(at::bmm(probs, v_block));
        continue;
      }
      at::Tensor out_block = out.slice(0, g0, g1).slice(1, r0, r1);
      at::bmm_out(out_block, probs, v_block);
    }
  }
  if (autograd) out = StackBlocks(blocks, groups, n, per_group, rows);
  return out.reshape({b, heads, n, c / heads}).permute({0, 2, 1, 3}).reshape({b, n, c});
}

}  // namespace farm::sd
