#include "farm/sd/unet.h"

#include <optional>

#include "layers.h"
#include "module_names.h"
#include "unet_blocks.h"
#include "unet_structure.h"
#include "weight_spec.h"

namespace farm::sd {
namespace {

constexpr const char* kComponent = "unet";

Status CheckInputs(const UNet::Structure& s, const at::Tensor& sample, const at::Tensor& timesteps,
                   const at::Tensor& context) {
  if (!sample.defined() || sample.dim() != 4 || sample.size(1) != s.in_channels) {
    return InvalidArgument("unet: sample must be [batch, " + std::to_string(s.in_channels) +
                           ", height, width], found " +
                           (sample.defined() ? ShapeToString(sample.sizes()) : "none"));
  }
  const int64_t batch = sample.size(0);
  if (!timesteps.defined() || (timesteps.numel() != 1 && timesteps.numel() != batch) ||
      timesteps.dim() > 1) {
    return InvalidArgument("unet: timesteps must be one value or [" + std::to_string(batch) +
                           "], found " + (timesteps.defined() ? ShapeToString(timesteps.sizes()) : "none"));
  }
  if (!context.defined() || context.dim() != 3 || context.size(0) != batch ||
      (s.context_dim > 0 && context.size(2) != s.context_dim)) {
    return InvalidArgument("unet: context must be [" + std::to_string(batch) + ", tokens, " +
                           std::to_string(s.context_dim) + "], found " +
                           (context.defined() ? ShapeToString(context.sizes()) : "none"));
  }
  return Status::Ok();
}

Status CheckResidual(const std::string& what, const at::Tensor& residual, const at::Tensor& target) {
  if (residual.defined() && residual.sizes() == target.sizes()) return Status::Ok();
  return InvalidArgument("unet: control residual " + what + " has shape " +
                         (residual.defined() ? ShapeToString(residual.sizes()) : "none") +
                         ", the UNet's tensor there is " + ShapeToString(target.sizes()));
}

}  // namespace

StatusOr<UNet> UNet::Create(TensorMap weights, UNetOptions options) {
  return CatchTorchErrors("unet", [&]() -> StatusOr<UNet> {
    WeightSpec spec;
    FARM_ASSIGN_OR_RETURN(Structure structure,
                          ReadUNetStructure(weights, options, kComponent, true, &spec));
    FARM_RETURN_IF_ERROR(spec.Check(weights, kComponent));
    ConvertConvWeightsToChannelsLast(&weights);
    UNet unet;
    unet.weights_ = std::move(weights);
    unet.options_ = options;
    unet.structure_ = std::make_shared<const Structure>(std::move(structure));
    return unet;
  });
}

StatusOr<at::Tensor> UNet::Forward(const at::Tensor& sample_in, const at::Tensor& timesteps_in,
                                   const at::Tensor& context_in, const ControlResiduals* control,
                                   DebugTaps* taps) const {
  return CatchTorchErrors("unet forward", [&]() -> StatusOr<at::Tensor> {
    const Structure& s = *structure_;
    FARM_RETURN_IF_ERROR(CheckInputs(s, sample_in, timesteps_in, context_in));
    if (control && control->down.size() != s.skip_channels.size()) {
      return InvalidArgument("unet: " + std::to_string(control->down.size()) +
                             " control down residuals, the UNet has " +
                             std::to_string(s.skip_channels.size()) + " skips");
    }
    // With adapters the caller's grad mode decides (training); inference never records.
    std::optional<at::NoGradGuard> no_grad;
    if (!adapters_) no_grad.emplace();
    const Weights w(weights_, adapters_.get(), gradient_checkpointing_);
    const at::TensorOptions options = w("conv_in.weight").options();
    const at::Tensor sample = ChannelsLast(sample_in.to(options));
    const at::Tensor context = context_in.to(options);
    const int64_t batch = sample.size(0);

    const at::Tensor features = BatchTimestepFeatures(timesteps_in, batch, s.time_proj_channels, options);
    at::Tensor temb = TimeEmbedding(w, features);
    if (taps) {
      (*taps)["time_proj"] = features;
      (*taps)["time_embedding"] = temb;
    }
    const at::Tensor temb_silu = at::silu(temb);

    std::vector<at::Tensor> skips;
    at::Tensor h = UNetDownPath(w, s, options_, sample, temb_silu, context, &skips, taps);
    if (control) {
      for (size_t i = 0; i < skips.size(); ++i) {
        FARM_RETURN_IF_ERROR(CheckResidual("down " + std::to_string(i), control->down[i], skips[i]));
        skips[i] = skips[i] + control->down[i].to(options);
      }
    }
    h = UNetMidBlock(w, s, options_, h, temb_silu, context);
    if (taps) (*taps)["mid_block"] = h;
    if (control && control->mid.defined()) {
      FARM_RETURN_IF_ERROR(CheckResidual("mid", control->mid, h));
      h = h + control->mid.to(options);
    }

    for (size_t i = 0; i < s.up.size(); ++i) {
      const LevelShape& level = s.up[i];
      for (size_t j = 0; j < level.resnets.size(); ++j) {
        h = at::cat({h, skips.back()}, 1);
        skips.pop_back();
        h = UNetResnet(w, level.prefix + ".resnets." + std::to_string(j), h, temb_silu, options_);
        if (!level.attentions.empty()) {
          h = UNetTransformer(w, level.prefix + ".attentions." + std::to_string(j), h, context,
                                 level.attentions[j], options_);
        }
      }
      if (level.resample) {
        // Upsample to the next skip's size (x2 unless the input size was odd somewhere).
        std::vector<int64_t> size = {h.size(2) * 2, h.size(3) * 2};
        if (!skips.empty()) size = {skips.back().size(2), skips.back().size(3)};
        h = Conv2d(w, level.prefix + ".upsamplers.0.conv", at::upsample_nearest2d(h, size));
      }
      if (taps) (*taps)["up_block_" + std::to_string(i)] = h;
    }
    h = SiluInPlace(GroupNorm(w, "conv_norm_out", h, {options_.norm_groups, options_.resnet_norm_eps}));
    return Conv2d(w, "conv_out", h).contiguous();
  });
}

int64_t UNet::in_channels() const { return structure_->in_channels; }
int64_t UNet::out_channels() const { return structure_->out_channels; }
int64_t UNet::context_dim() const { return structure_->context_dim; }
int64_t UNet::num_skips() const { return static_cast<int64_t>(structure_->skip_channels.size()); }

std::vector<int64_t> UNet::block_out_channels() const {
  std::vector<int64_t> channels;
  for (const LevelShape& level : structure_->down) channels.push_back(level.out);
  return channels;
}

void UNet::SetAdapters(std::shared_ptr<const LayerAdapters> adapters) {
  adapters_ = std::move(adapters);
}

void UNet::SetGradientCheckpointing(bool on) { gradient_checkpointing_ = on; }

std::vector<std::string> UNet::ModuleNames() const { return WeightModuleNames(weights_); }

}  // namespace farm::sd
