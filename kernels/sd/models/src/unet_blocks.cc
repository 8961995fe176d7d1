#include "unet_blocks.h"

#include <algorithm>
#include <cmath>

#include "checkpoint.h"

namespace farm::sd {
namespace {

at::Tensor Attention(const Weights& w, const std::string& p, const at::Tensor& x,
                     const at::Tensor& context, int64_t heads) {
  at::Tensor out = MultiHeadAttention(Linear(w, p + ".to_q", x), Linear(w, p + ".to_k", context),
                                      Linear(w, p + ".to_v", context), heads);
  return Linear(w, p + ".to_out.0", out);
}

// Bound on the feed-forward's widest intermediate per block of tokens (see FeedForward).
constexpr int64_t kMaxFeedForwardBlockBytes = int64_t{16} << 20;

// GEGLU: proj gives (hidden, gate) halves in that order; hidden * gelu(gate) (erf GELU).
// It acts on each token alone, so it runs over blocks of tokens: at 4096 tokens its
// 8x-wide intermediates would be 84 MB tensors, which glibc maps and the kernel zero-fills
// afresh on every call; blocks of at most 16 MB are reused from the heap.
at::Tensor FeedForward(const Weights& w, const std::string& p, const at::Tensor& x) {
  const at::Tensor tokens = x.reshape({-1, x.size(-1)});
  const int64_t count = tokens.size(0);
  const int64_t proj_width = w(p + ".net.0.proj.weight").size(0);
  const int64_t rows = std::clamp<int64_t>(kMaxFeedForwardBlockBytes / (proj_width * 4), 1, count);
  at::Tensor out;
  for (int64_t r0 = 0; r0 < count; r0 += rows) {
    const int64_t r1 = std::min(count, r0 + rows);
    std::vector<at::Tensor> halves = Linear(w, p + ".net.0.proj", tokens.slice(0, r0, r1)).chunk(2, -1);
    at::Tensor block = Linear(w, p + ".net.2", halves[0] * at::gelu(halves[1]));
    if (r0 == 0 && r1 == count) return block.reshape({x.size(0), x.size(1), block.size(-1)});
    if (!out.defined()) out = at::empty({count, block.size(-1)}, block.options());
    out.slice(0, r0, r1).copy_(block);
  }
  return out.reshape({x.size(0), x.size(1), out.size(-1)});
}

at::Tensor TransformerBlock(const Weights& w, const std::string& p, at::Tensor x,
                            const at::Tensor& context, const UNetOptions& options) {
  const double eps = options.layer_norm_eps;
  at::Tensor h = LayerNorm(w, p + ".norm1", x, eps);
  x = Attention(w, p + ".attn1", h, h, options.num_heads).add_(x);
  h = LayerNorm(w, p + ".norm2", x, eps);
  x = Attention(w, p + ".attn2", h, context, options.num_heads).add_(x);
  h = LayerNorm(w, p + ".norm3", x, eps);
  return FeedForward(w, p + ".ff", h).add_(x);
}

GroupNormConfig ResnetNorm(const UNetOptions& options) {
  return {options.norm_groups, options.resnet_norm_eps};
}

}  // namespace

at::Tensor TimestepFeatures(const at::Tensor& timesteps, int64_t channels) {
  const int64_t half = channels / 2;
  at::Tensor exponent = at::arange(half, timesteps.options().dtype(at::kFloat)) * (-std::log(10000.0));
  exponent = exponent / static_cast<double>(half);
  at::Tensor args = timesteps.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0);
  at::Tensor features = at::cat({at::cos(args), at::sin(args)}, 1);
  if (channels % 2 == 1) features = at::constant_pad_nd(features, {0, 1});
  return features;
}

at::Tensor BatchTimestepFeatures(const at::Tensor& timesteps, int64_t batch, int64_t channels,
                                 const at::TensorOptions& options) {
  at::Tensor per_item = timesteps.to(options.device()).reshape({-1});
  if (per_item.numel() == 1 && batch != 1) per_item = per_item.expand({batch});
  return TimestepFeatures(per_item, channels).to(options);
}

at::Tensor TimeEmbedding(const Weights& w, const at::Tensor& features) {
  at::Tensor h = at::silu(Linear(w, "time_embedding.linear_1", features));
  return Linear(w, "time_embedding.linear_2", h);
}

at::Tensor SpatialTransformer(const Weights& w, const std::string& p, const at::Tensor& x,
                              const at::Tensor& context, const TransformerShape& shape,
                              const UNetOptions& options) {
  const int64_t b = x.size(0), height = x.size(2), width = x.size(3);
  at::Tensor h = GroupNorm(w, p + ".norm", x, {options.norm_groups, options.transformer_norm_eps});
  if (shape.linear_projection) {
    h = h.permute({0, 2, 3, 1}).reshape({b, height * width, shape.channels});
    h = Linear(w, p + ".proj_in", h);
  } else {
    h = Conv2d(w, p + ".proj_in", h, 1, 0);
    h = h.permute({0, 2, 3, 1}).reshape({b, height * width, shape.inner});
  }
  for (int64_t d = 0; d < shape.depth; ++d) {
    h = TransformerBlock(w, p + ".transformer_blocks." + std::to_string(d), h, context, options);
  }
  if (shape.linear_projection) {
    h = Linear(w, p + ".proj_out", h);
    h = ChannelsLast(h.reshape({b, height, width, shape.channels}).permute({0, 3, 1, 2}));
  } else {
    h = ChannelsLast(h.reshape({b, height, width, shape.inner}).permute({0, 3, 1, 2}));
    h = Conv2d(w, p + ".proj_out", h, 1, 0);
  }
  return h.add_(x);
}

at::Tensor UNetResnet(const Weights& w, const std::string& prefix, const at::Tensor& x,
                      const at::Tensor& temb_silu, const UNetOptions& options) {
  const GroupNormConfig norm = ResnetNorm(options);
  return CheckpointedBlock(w, prefix, {x, temb_silu},
                           [prefix, norm](const Weights& bw, const std::vector<at::Tensor>& in) {
                             return ResnetBlock(bw, prefix, in[0], in[1], norm);
                           });
}

at::Tensor UNetTransformer(const Weights& w, const std::string& prefix, const at::Tensor& x,
                           const at::Tensor& context, const TransformerShape& shape,
                           const UNetOptions& options) {
  return CheckpointedBlock(w, prefix, {x, context},
                           [prefix, shape, options](const Weights& bw, const std::vector<at::Tensor>& in) {
                             return SpatialTransformer(bw, prefix, in[0], in[1], shape, options);
                           });
}

at::Tensor UNetDownPath(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                        const at::Tensor& sample, const at::Tensor& temb_silu,
                        const at::Tensor& context, std::vector<at::Tensor>* skips, DebugTaps* taps) {
  at::Tensor h = Conv2d(w, "conv_in", sample);
  if (taps) (*taps)["conv_in"] = h;
  return UNetDownBlocks(w, s, options, h, temb_silu, context, skips, taps);
}

at::Tensor UNetDownBlocks(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                          at::Tensor h, const at::Tensor& temb_silu, const at::Tensor& context,
                          std::vector<at::Tensor>* skips, DebugTaps* taps) {
  skips->push_back(h);
  for (size_t i = 0; i < s.down.size(); ++i) {
    const LevelShape& level = s.down[i];
    for (size_t j = 0; j < level.resnets.size(); ++j) {
      h = UNetResnet(w, level.prefix + ".resnets." + std::to_string(j), h, temb_silu, options);
      if (!level.attentions.empty()) {
        h = UNetTransformer(w, level.prefix + ".attentions." + std::to_string(j), h, context,
                               level.attentions[j], options);
      }
      skips->push_back(h);
    }
    if (level.resample) {
      h = Conv2d(w, level.prefix + ".downsamplers.0.conv", h, 2, 1);
      skips->push_back(h);
    }
    if (taps) (*taps)["down_block_" + std::to_string(i)] = h;
  }
  return h;
}

at::Tensor UNetMidBlock(const Weights& w, const UNet::Structure& s, const UNetOptions& options,
                        const at::Tensor& x, const at::Tensor& temb_silu, const at::Tensor& context) {
  at::Tensor h = UNetResnet(w, "mid_block.resnets.0", x, temb_silu, options);
  for (size_t j = 0; j < s.mid.attentions.size(); ++j) {
    h = UNetTransformer(w, "mid_block.attentions." + std::to_string(j), h, context,
                           s.mid.attentions[j], options);
    h = UNetResnet(w, "mid_block.resnets." + std::to_string(j + 1), h, temb_silu, options);
  }
  return h;
}

}  // namespace farm::sd
