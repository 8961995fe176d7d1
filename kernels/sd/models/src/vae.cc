#include "farm/sd/vae.h"

#include "layers.h"
#include "module_names.h"
#include "weight_spec.h"

namespace farm::sd {

namespace {
constexpr const char* kComponent = "vae";
}  // namespace

struct VaeLevel {
  std::string prefix;  // "encoder.down_blocks.0", "decoder.up_blocks.2"
  int64_t in = 0, out = 0, resnets = 0;
  bool resample = false;
};

struct Vae::Structure {
  int64_t image_in = 0, image_out = 0, latent = 0;
  std::vector<VaeLevel> encoder_levels, decoder_levels;
  int64_t encoder_mid_resnets = 0, decoder_mid_resnets = 0;
  int64_t encoder_channels = 0, decoder_channels = 0;  // at the mid block
  int64_t downsamplers = 0;
};

namespace {

void AddResnetSpec(const std::string& p, int64_t in, int64_t out, WeightSpec* spec) {
  spec->AddNorm(p + ".norm1", in);
  spec->AddConv(p + ".conv1", in, out, 3);
  spec->AddNorm(p + ".norm2", out);
  spec->AddConv(p + ".conv2", out, out, 3);
  if (in != out) spec->AddConv(p + ".conv_shortcut", in, out, 1);
}

void AddAttentionSpec(const std::string& p, int64_t c, WeightSpec* spec) {
  spec->AddNorm(p + ".group_norm", c);
  for (const char* proj : {".to_q", ".to_k", ".to_v", ".to_out.0"}) {
    spec->AddAnyOf(p + proj + ".weight", {{c, c}, {c, c, 1, 1}});
    spec->Add(p + proj + ".bias", {c});
  }
}

Status CheckGroups(const std::string& name, int64_t channels, const VaeOptions& options) {
  if (options.norm_groups > 0 && channels % options.norm_groups == 0) return Status::Ok();
  return InvalidArgument(std::string(kComponent) + ": " + name + " has " + std::to_string(channels) +
                         " channels, not divisible into " + std::to_string(options.norm_groups) +
                         " groups");
}

// Levels of "<side>.<list>.N": resnets that move `*channels` to the level's width, then an
// optional resampler conv.
StatusOr<std::vector<VaeLevel>> ReadLevels(const TensorMap& weights, const std::string& list_prefix,
                                           const char* resampler, const VaeOptions& options,
                                           int64_t* channels, WeightSpec* spec) {
  std::vector<VaeLevel> levels;
  const int64_t count = CountChildren(weights, list_prefix + ".");
  if (count == 0) return InvalidArgument(std::string(kComponent) + " weights: no " + list_prefix + ".*");
  for (int64_t i = 0; i < count; ++i) {
    VaeLevel level;
    level.prefix = list_prefix + "." + std::to_string(i);
    level.in = *channels;
    FARM_ASSIGN_OR_RETURN(level.out, DimOf(weights, kComponent, level.prefix + ".resnets.0.conv1.weight", 0));
    level.resnets = CountChildren(weights, level.prefix + ".resnets.");
    for (int64_t j = 0; j < level.resnets; ++j) {
      const std::string rp = level.prefix + ".resnets." + std::to_string(j);
      FARM_RETURN_IF_ERROR(CheckGroups(rp, *channels, options));
      FARM_RETURN_IF_ERROR(CheckGroups(rp + ".norm2", level.out, options));
      AddResnetSpec(rp, *channels, level.out, spec);
      *channels = level.out;
    }
    level.resample = HasPrefix(weights, level.prefix + "." + resampler + ".");
    if (level.resample) spec->AddConv(level.prefix + "." + resampler + ".0.conv", *channels, *channels, 3);
    levels.push_back(std::move(level));
  }
  return levels;
}

StatusOr<int64_t> ReadMidBlock(const TensorMap& weights, const std::string& p, int64_t channels,
                               WeightSpec* spec) {
  const int64_t resnets = CountChildren(weights, p + ".resnets.");
  if (resnets == 0) return InvalidArgument(std::string(kComponent) + " weights: no " + p + ".resnets.*");
  for (int64_t j = 0; j < resnets; ++j) {
    if (j > 0) AddAttentionSpec(p + ".attentions." + std::to_string(j - 1), channels, spec);
    AddResnetSpec(p + ".resnets." + std::to_string(j), channels, channels, spec);
  }
  return resnets;
}

StatusOr<Vae::Structure> ReadStructure(const TensorMap& weights, const VaeOptions& options,
                                       WeightSpec* spec) {
  Vae::Structure s;
  int64_t channels = 0;
  FARM_ASSIGN_OR_RETURN(channels, DimOf(weights, kComponent, "encoder.conv_in.weight", 0));
  FARM_ASSIGN_OR_RETURN(s.image_in, DimOf(weights, kComponent, "encoder.conv_in.weight", 1));
  FARM_ASSIGN_OR_RETURN(s.latent, DimOf(weights, kComponent, "post_quant_conv.weight", 0));
  spec->AddConv("encoder.conv_in", s.image_in, channels, 3);
  FARM_ASSIGN_OR_RETURN(s.encoder_levels,
                        ReadLevels(weights, "encoder.down_blocks", "downsamplers", options, &channels, spec));
  for (const VaeLevel& level : s.encoder_levels) s.downsamplers += level.resample ? 1 : 0;
  s.encoder_channels = channels;
  FARM_ASSIGN_OR_RETURN(s.encoder_mid_resnets, ReadMidBlock(weights, "encoder.mid_block", channels, spec));
  spec->AddNorm("encoder.conv_norm_out", channels);
  spec->AddConv("encoder.conv_out", channels, 2 * s.latent, 3);
  spec->AddConv("quant_conv", 2 * s.latent, 2 * s.latent, 1);
  spec->AddConv("post_quant_conv", s.latent, s.latent, 1);

  FARM_ASSIGN_OR_RETURN(channels, DimOf(weights, kComponent, "decoder.conv_in.weight", 0));
  FARM_RETURN_IF_ERROR(CheckGroups("decoder.mid_block", channels, options));
  spec->AddConv("decoder.conv_in", s.latent, channels, 3);
  s.decoder_channels = channels;
  FARM_ASSIGN_OR_RETURN(s.decoder_mid_resnets, ReadMidBlock(weights, "decoder.mid_block", channels, spec));
  FARM_ASSIGN_OR_RETURN(s.decoder_levels,
                        ReadLevels(weights, "decoder.up_blocks", "upsamplers", options, &channels, spec));
  FARM_ASSIGN_OR_RETURN(s.image_out, DimOf(weights, kComponent, "decoder.conv_out.weight", 0));
  spec->AddNorm("decoder.conv_norm_out", channels);
  spec->AddConv("decoder.conv_out", channels, s.image_out, 3);
  return s;
}

// Single-head self-attention over the pixels, with a residual.
at::Tensor MidAttention(const Weights& w, const std::string& p, const at::Tensor& x,
                        GroupNormConfig norm) {
  const int64_t b = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  at::Tensor h = GroupNorm(w, p + ".group_norm", x, norm).reshape({b, c, height * width}).transpose(1, 2);
  at::Tensor out = MultiHeadAttention(Linear(w, p + ".to_q", h), Linear(w, p + ".to_k", h),
                                      Linear(w, p + ".to_v", h), 1);
  out = Linear(w, p + ".to_out.0", out);
  return out.transpose(1, 2).reshape({b, c, height, width}).add_(x);
}

at::Tensor MidBlock(const Weights& w, const std::string& p, int64_t resnets, const at::Tensor& x,
                    GroupNormConfig norm) {
  at::Tensor h = ResnetBlock(w, p + ".resnets.0", x, at::Tensor(), norm);
  for (int64_t j = 1; j < resnets; ++j) {
    h = MidAttention(w, p + ".attentions." + std::to_string(j - 1), h, norm);
    h = ResnetBlock(w, p + ".resnets." + std::to_string(j), h, at::Tensor(), norm);
  }
  return h;
}

at::Tensor Head(const Weights& w, const std::string& side, const at::Tensor& x, GroupNormConfig norm) {
  at::Tensor h = GroupNorm(w, side + ".conv_norm_out", x, norm);
  at::silu_(h);
  return Conv2d(w, side + ".conv_out", h).contiguous();
}

}  // namespace

StatusOr<Vae> Vae::Create(TensorMap weights, VaeOptions options) {
  return CatchTorchErrors("vae", [&]() -> StatusOr<Vae> {
    WeightSpec spec;
    FARM_ASSIGN_OR_RETURN(Structure structure, ReadStructure(weights, options, &spec));
    FARM_RETURN_IF_ERROR(spec.Check(weights, kComponent));
    ConvertConvWeightsToChannelsLast(&weights);
    Vae vae;
    vae.weights_ = std::move(weights);
    vae.options_ = options;
    vae.structure_ = std::make_shared<const Structure>(std::move(structure));
    return vae;
  });
}

StatusOr<VaePosterior> Vae::Encode(const at::Tensor& image, DebugTaps* taps) const {
  return CatchTorchErrors("vae encode", [&]() -> StatusOr<VaePosterior> {
    const Structure& s = *structure_;
    const int64_t factor = downscale_factor();
    if (!image.defined() || image.dim() != 4 || image.size(1) != s.image_in ||
        image.size(2) % factor != 0 || image.size(3) % factor != 0) {
      return InvalidArgument("vae encode: image must be [batch, " + std::to_string(s.image_in) +
                             ", H, W] with H and W multiples of " + std::to_string(factor) + ", found " +
                             (image.defined() ? ShapeToString(image.sizes()) : "none"));
    }
    at::NoGradGuard no_grad;
    const Weights w(weights_);
    const GroupNormConfig norm{options_.norm_groups, options_.norm_eps};
    at::Tensor h = Conv2d(w, "encoder.conv_in", ChannelsLast(image.to(w("encoder.conv_in.weight").options())));
    if (taps) (*taps)["encoder_conv_in"] = h;
    for (size_t i = 0; i < s.encoder_levels.size(); ++i) {
      const VaeLevel& level = s.encoder_levels[i];
      for (int64_t j = 0; j < level.resnets; ++j) {
        h = ResnetBlock(w, level.prefix + ".resnets." + std::to_string(j), h, at::Tensor(), norm);
      }
      if (level.resample) {
        // Pad right and bottom only, then a stride-2 conv without padding.
        h = Conv2d(w, level.prefix + ".downsamplers.0.conv", at::constant_pad_nd(h, {0, 1, 0, 1}, 0), 2, 0);
      }
      if (taps) (*taps)["encoder_down_block_" + std::to_string(i)] = h;
    }
    h = MidBlock(w, "encoder.mid_block", s.encoder_mid_resnets, h, norm);
    if (taps) (*taps)["encoder_mid_block"] = h;
    h = Head(w, "encoder", h, norm);
    VaePosterior posterior;
    posterior.moments = Conv2d(w, "quant_conv", h, 1, 0).contiguous();
    std::vector<at::Tensor> halves = posterior.moments.chunk(2, 1);
    posterior.mean = halves[0];
    posterior.logvar = at::clamp(halves[1], -30.0, 20.0);
    return posterior;
  });
}

StatusOr<at::Tensor> Vae::Decode(const at::Tensor& z, DebugTaps* taps) const {
  return CatchTorchErrors("vae decode", [&]() -> StatusOr<at::Tensor> {
    const Structure& s = *structure_;
    if (!z.defined() || z.dim() != 4 || z.size(1) != s.latent) {
      return InvalidArgument("vae decode: latent must be [batch, " + std::to_string(s.latent) +
                             ", h, w], found " + (z.defined() ? ShapeToString(z.sizes()) : "none"));
    }
    at::NoGradGuard no_grad;
    const Weights w(weights_);
    const GroupNormConfig norm{options_.norm_groups, options_.norm_eps};
    at::Tensor h = Conv2d(w, "post_quant_conv", ChannelsLast(z.to(w("post_quant_conv.weight").options())), 1, 0);
    if (taps) (*taps)["post_quant_conv"] = h;
    h = Conv2d(w, "decoder.conv_in", h);
    if (taps) (*taps)["decoder_conv_in"] = h;
    h = MidBlock(w, "decoder.mid_block", s.decoder_mid_resnets, h, norm);
    if (taps) (*taps)["decoder_mid_block"] = h;
    for (size_t i = 0; i < s.decoder_levels.size(); ++i) {
      const VaeLevel& level = s.decoder_levels[i];
      for (int64_t j = 0; j < level.resnets; ++j) {
        h = ResnetBlock(w, level.prefix + ".resnets." + std::to_string(j), h, at::Tensor(), norm);
      }
      if (level.resample) {
        h = at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2});
        h = Conv2d(w, level.prefix + ".upsamplers.0.conv", h);
      }
      if (taps) (*taps)["decoder_up_block_" + std::to_string(i)] = h;
    }
    return Head(w, "decoder", h, norm);
  });
}

int64_t Vae::latent_channels() const { return structure_->latent; }
int64_t Vae::image_channels() const { return structure_->image_out; }
int64_t Vae::downscale_factor() const { return int64_t{1} << structure_->downsamplers; }
std::vector<std::string> Vae::ModuleNames() const { return WeightModuleNames(weights_); }

}  // namespace farm::sd
