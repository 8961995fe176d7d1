#include "layers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace farm::sd {

const at::Tensor& Weights::operator()(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) throw std::out_of_range("weight " + name + " was removed from the model");
  return it->second;
}

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
  return at::linear(x, weight, w.Has(bias_name) ? w(bias_name) : at::Tensor());
}

at::Tensor Conv2d(const Weights& w, const std::string& prefix, const at::Tensor& x,
                  int64_t stride, int64_t padding) {
  return at::conv2d(x, w(prefix + ".weight"), w(prefix + ".bias"), {stride, stride},
                    {padding, padding});
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
  at::Tensor h = GroupNorm(w, prefix + ".norm1", x, norm);
  at::silu_(h);
  h = Conv2d(w, prefix + ".conv1", h);
  if (temb_silu.defined()) {
    h.add_(Linear(w, prefix + ".time_emb_proj", temb_silu).unsqueeze(-1).unsqueeze(-1));
  }
  h = GroupNorm(w, prefix + ".norm2", h, norm);
  at::silu_(h);
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
  at::Tensor out = at::empty({groups, n, c / heads}, q.options());
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
      at::Tensor out_block = out.slice(0, g0, g1).slice(1, r0, r1);
      at::bmm_out(out_block, probs, v_block);
    }
  }
  return out.reshape({b, heads, n, c / heads}).permute({0, 2, 1, 3}).reshape({b, n, c});
}

}  // namespace farm::sd
