#include "unet_structure.h"

namespace farm::sd {
namespace {

std::string Child(const std::string& prefix, const char* list, int64_t i) {
  return prefix + "." + list + "." + std::to_string(i);
}

Status CheckGroups(const std::string& component, const std::string& name, int64_t channels,
                   const UNetOptions& options) {
  if (options.norm_groups > 0 && channels % options.norm_groups == 0) return Status::Ok();
  return InvalidArgument(component + ": " + name + " has " + std::to_string(channels) +
                         " channels, not divisible into " + std::to_string(options.norm_groups) +
                         " groups");
}

StatusOr<TransformerShape> ReadTransformer(const TensorMap& weights, const std::string& component,
                                           const std::string& p, int64_t channels,
                                           const UNetOptions& options) {
  TransformerShape t;
  t.channels = channels;
  FARM_ASSIGN_OR_RETURN(t.inner, DimOf(weights, component, p + ".proj_in.weight", 0));
  t.linear_projection = ShapeOf(weights, p + ".proj_in.weight")->size() == 2;
  t.depth = CountChildren(weights, p + ".transformer_blocks.");
  if (t.depth == 0) return InvalidArgument(component + " weights: no " + p + ".transformer_blocks.*");
  FARM_ASSIGN_OR_RETURN(t.ff_inner,
                        DimOf(weights, component, p + ".transformer_blocks.0.ff.net.2.weight", 1));
  if (options.num_heads <= 0 || t.inner % options.num_heads != 0) {
    return InvalidArgument(component + ": " + p + " has width " + std::to_string(t.inner) +
                           ", which " + std::to_string(options.num_heads) + " heads do not divide");
  }
  FARM_RETURN_IF_ERROR(CheckGroups(component, p, channels, options));
  return t;
}

void AddTransformerSpec(const std::string& p, const TransformerShape& t, int64_t context_dim,
                        WeightSpec* spec) {
  spec->AddNorm(p + ".norm", t.channels);
  if (t.linear_projection) {
    spec->AddLinear(p + ".proj_in", t.channels, t.inner);
    spec->AddLinear(p + ".proj_out", t.inner, t.channels);
  } else {
    spec->AddConv(p + ".proj_in", t.channels, t.inner, 1);
    spec->AddConv(p + ".proj_out", t.inner, t.channels, 1);
  }
  for (int64_t d = 0; d < t.depth; ++d) {
    const std::string b = p + ".transformer_blocks." + std::to_string(d);
    for (const char* norm : {".norm1", ".norm2", ".norm3"}) spec->AddNorm(b + norm, t.inner);
    spec->AddLinear(b + ".attn1.to_q", t.inner, t.inner, false);
    spec->AddLinear(b + ".attn1.to_k", t.inner, t.inner, false);
    spec->AddLinear(b + ".attn1.to_v", t.inner, t.inner, false);
    spec->AddLinear(b + ".attn1.to_out.0", t.inner, t.inner);
    spec->AddLinear(b + ".attn2.to_q", t.inner, t.inner, false);
    spec->AddLinear(b + ".attn2.to_k", context_dim, t.inner, false);
    spec->AddLinear(b + ".attn2.to_v", context_dim, t.inner, false);
    spec->AddLinear(b + ".attn2.to_out.0", t.inner, t.inner);
    spec->AddLinear(b + ".ff.net.0.proj", t.inner, 2 * t.ff_inner);
    spec->AddLinear(b + ".ff.net.2", t.ff_inner, t.inner);
  }
}

void AddResnetSpec(const std::string& p, const ResnetShape& r, int64_t temb, WeightSpec* spec) {
  spec->AddNorm(p + ".norm1", r.in);
  spec->AddConv(p + ".conv1", r.in, r.out, 3);
  spec->AddLinear(p + ".time_emb_proj", temb, r.out);
  spec->AddNorm(p + ".norm2", r.out);
  spec->AddConv(p + ".conv2", r.out, r.out, 3);
  if (r.in != r.out) spec->AddConv(p + ".conv_shortcut", r.in, r.out, 1);
}

// Reads a level whose resnets each take `in(j)` channels; `channels` is the running
// channel count (updated). Attention, when the level has any, follows every resnet.
StatusOr<LevelShape> ReadLevel(const TensorMap& weights, const UNetOptions& options,
                               const std::string& component, const std::string& prefix,
                               int64_t resnet_count, int64_t* channels,
                               std::vector<int64_t>* skips, bool pop_skips, WeightSpec* spec,
                               int64_t temb, int64_t context_dim) {
  LevelShape level;
  level.prefix = prefix;
  const bool has_attention = HasPrefix(weights, prefix + ".attentions.");
  FARM_ASSIGN_OR_RETURN(level.out, DimOf(weights, component, prefix + ".resnets.0.conv1.weight", 0));
  for (int64_t j = 0; j < resnet_count; ++j) {
    ResnetShape r{*channels, level.out};
    const std::string rp = Child(prefix, "resnets", j);
    if (pop_skips) {
      if (skips->empty()) {
        return InvalidArgument(component + " weights: " + rp +
                               " has no skip connection left to take (more up than down resnets)");
      }
      r.in += skips->back();
      skips->pop_back();
    }
    FARM_RETURN_IF_ERROR(CheckGroups(component, rp, r.in, options));
    FARM_RETURN_IF_ERROR(CheckGroups(component, rp + ".norm2", r.out, options));
    AddResnetSpec(rp, r, temb, spec);
    level.resnets.push_back(r);
    *channels = r.out;
    if (has_attention) {
      const std::string ap = Child(prefix, "attentions", j);
      FARM_ASSIGN_OR_RETURN(TransformerShape t,
                            ReadTransformer(weights, component, ap, *channels, options));
      AddTransformerSpec(ap, t, context_dim, spec);
      level.attentions.push_back(t);
    }
    if (!pop_skips && skips) skips->push_back(*channels);
  }
  return level;
}

}  // namespace

StatusOr<UNet::Structure> ReadUNetStructure(const TensorMap& weights, const UNetOptions& options,
                                            const std::string& component, bool with_up_path,
                                            WeightSpec* spec) {
  UNet::Structure s;
  FARM_ASSIGN_OR_RETURN(s.base_channels, DimOf(weights, component, "conv_in.weight", 0));
  FARM_ASSIGN_OR_RETURN(s.in_channels, DimOf(weights, component, "conv_in.weight", 1));
  FARM_ASSIGN_OR_RETURN(s.time_embed_dim, DimOf(weights, component, "time_embedding.linear_1.weight", 0));
  FARM_ASSIGN_OR_RETURN(s.time_proj_channels,
                        DimOf(weights, component, "time_embedding.linear_1.weight", 1));
  // The context width: any cross-attention key projection tells it.
  for (const auto& [name, tensor] : weights) {
    static const std::string kKey = ".attn2.to_k.weight";
    if (name.size() > kKey.size() && name.compare(name.size() - kKey.size(), kKey.size(), kKey) == 0 &&
        tensor.defined() && tensor.dim() == 2) {
      s.context_dim = tensor.size(1);
      break;
    }
  }
  spec->AddConv("conv_in", s.in_channels, s.base_channels, 3);
  spec->AddLinear("time_embedding.linear_1", s.time_proj_channels, s.time_embed_dim);
  spec->AddLinear("time_embedding.linear_2", s.time_embed_dim, s.time_embed_dim);

  int64_t channels = s.base_channels;
  s.skip_channels.push_back(channels);
  const int64_t down_count = CountChildren(weights, "down_blocks.");
  if (down_count == 0) return InvalidArgument(component + " weights: no down_blocks.*");
  for (int64_t i = 0; i < down_count; ++i) {
    const std::string prefix = "down_blocks." + std::to_string(i);
    const int64_t resnets = CountChildren(weights, prefix + ".resnets.");
    if (resnets == 0) return InvalidArgument(component + " weights: no " + prefix + ".resnets.*");
    FARM_ASSIGN_OR_RETURN(LevelShape level,
                          ReadLevel(weights, options, component, prefix, resnets, &channels,
                                    &s.skip_channels, false, spec, s.time_embed_dim, s.context_dim));
    level.resample = HasPrefix(weights, prefix + ".downsamplers.");
    if (level.resample) {
      spec->AddConv(prefix + ".downsamplers.0.conv", channels, channels, 3);
      s.skip_channels.push_back(channels);
    }
    s.down.push_back(std::move(level));
  }

  // Mid block: resnet, then (attention, resnet) pairs.
  const int64_t mid_resnets = CountChildren(weights, "mid_block.resnets.");
  if (mid_resnets == 0) return InvalidArgument(component + " weights: no mid_block.resnets.*");
  s.mid.prefix = "mid_block";
  s.mid.out = channels;
  for (int64_t j = 0; j < mid_resnets; ++j) {
    const std::string rp = Child("mid_block", "resnets", j);
    if (j > 0) {
      const std::string ap = Child("mid_block", "attentions", j - 1);
      FARM_ASSIGN_OR_RETURN(TransformerShape t, ReadTransformer(weights, component, ap, channels, options));
      AddTransformerSpec(ap, t, s.context_dim, spec);
      s.mid.attentions.push_back(t);
    }
    AddResnetSpec(rp, {channels, channels}, s.time_embed_dim, spec);
    s.mid.resnets.push_back({channels, channels});
  }
  if (!with_up_path) return s;

  std::vector<int64_t> skips = s.skip_channels;
  const int64_t up_count = CountChildren(weights, "up_blocks.");
  if (up_count == 0) return InvalidArgument(component + " weights: no up_blocks.*");
  for (int64_t i = 0; i < up_count; ++i) {
    const std::string prefix = "up_blocks." + std::to_string(i);
    const int64_t resnets = CountChildren(weights, prefix + ".resnets.");
    if (resnets == 0) return InvalidArgument(component + " weights: no " + prefix + ".resnets.*");
    FARM_ASSIGN_OR_RETURN(LevelShape level,
                          ReadLevel(weights, options, component, prefix, resnets, &channels, &skips,
                                    true, spec, s.time_embed_dim, s.context_dim));
    level.resample = HasPrefix(weights, prefix + ".upsamplers.");
    if (level.resample) spec->AddConv(prefix + ".upsamplers.0.conv", channels, channels, 3);
    s.up.push_back(std::move(level));
  }
  if (!skips.empty()) {
    return InvalidArgument(component + " weights: the up blocks take " +
                           std::to_string(s.skip_channels.size() - skips.size()) + " of the " +
                           std::to_string(s.skip_channels.size()) + " skip connections");
  }
  FARM_RETURN_IF_ERROR(CheckGroups(component, "conv_norm_out", channels, options));
  FARM_ASSIGN_OR_RETURN(s.out_channels, DimOf(weights, component, "conv_out.weight", 0));
  spec->AddNorm("conv_norm_out", channels);
  spec->AddConv("conv_out", channels, s.out_channels, 3);
  return s;
}

}  // namespace farm::sd
