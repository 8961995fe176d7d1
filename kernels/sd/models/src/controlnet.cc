#include "farm/sd/controlnet.h"

#include "farm/sd/controlnet_checkpoint.h"
#include "layers.h"
#include "unet_blocks.h"
#include "unet_structure.h"
#include "weight_spec.h"

namespace farm::sd {

struct ControlNet::Structure {
  UNet::Structure trunk;  // conv_in, time embedding, down and mid blocks
  int64_t hint_channels = 0;
  std::vector<int64_t> embedding_channels;  // conv_in's width, then each widening block's
  int64_t hint_blocks = 0;                  // controlnet_cond_embedding.blocks.*
  int64_t hint_downscale = 1;
};

namespace {

constexpr const char* kComponent = "controlnet";
const std::string kEmbedding = "controlnet_cond_embedding";

std::string Block(int64_t k) { return kEmbedding + ".blocks." + std::to_string(k); }

// Block k of the hint embedding halves the resolution when k is odd (diffusers builds
// pairs: c_i -> c_i, then c_i -> c_{i+1} with stride 2; the cldm original is the same).
int64_t BlockStride(int64_t k) { return k % 2 == 1 ? 2 : 1; }

StatusOr<ControlNet::Structure> ReadStructure(const TensorMap& weights, const UNetOptions& options,
                                              WeightSpec* spec) {
  ControlNet::Structure s;
  FARM_ASSIGN_OR_RETURN(s.trunk, ReadUNetStructure(weights, options, kComponent, false, spec));

  FARM_ASSIGN_OR_RETURN(int64_t width, DimOf(weights, kComponent, kEmbedding + ".conv_in.weight", 0));
  FARM_ASSIGN_OR_RETURN(s.hint_channels, DimOf(weights, kComponent, kEmbedding + ".conv_in.weight", 1));
  spec->AddConv(kEmbedding + ".conv_in", s.hint_channels, width, 3);
  s.embedding_channels.push_back(width);
  s.hint_blocks = CountChildren(weights, kEmbedding + ".blocks.");
  if (s.hint_blocks % 2 != 0) {
    return InvalidArgument(std::string(kComponent) + " weights: " + std::to_string(s.hint_blocks) + " " +
                           kEmbedding + ".blocks.*; the hint embedding is built of pairs (same width, "
                           "then stride 2), so the count must be even");
  }
  for (int64_t k = 0; k < s.hint_blocks; ++k) {
    FARM_ASSIGN_OR_RETURN(int64_t out, DimOf(weights, kComponent, Block(k) + ".weight", 0));
    if (BlockStride(k) == 1 && out != width) {
      return InvalidArgument(std::string(kComponent) + " weights: " + Block(k) + ".weight has " +
                             std::to_string(out) + " output channels; this stride-1 block keeps the width " +
                             std::to_string(width));
    }
    spec->AddConv(Block(k), width, out, 3);
    if (BlockStride(k) == 2) {
      s.hint_downscale *= 2;
      s.embedding_channels.push_back(out);
    }
    width = out;
  }
  spec->AddConv(kEmbedding + ".conv_out", width, s.trunk.base_channels, 3);

  for (size_t i = 0; i < s.trunk.skip_channels.size(); ++i) {
    const int64_t c = s.trunk.skip_channels[i];
    spec->AddConv("controlnet_down_blocks." + std::to_string(i), c, c, 1);
  }
  spec->AddConv("controlnet_mid_block", s.trunk.mid.out, s.trunk.mid.out, 1);
  return s;
}

std::string Shape(const at::Tensor& t) { return t.defined() ? ShapeToString(t.sizes()) : "none"; }

Status CheckInputs(const ControlNet::Structure& s, const at::Tensor& sample, const at::Tensor& timesteps,
                   const at::Tensor& context, const at::Tensor& hint) {
  const UNet::Structure& t = s.trunk;
  if (!sample.defined() || sample.dim() != 4 || sample.size(1) != t.in_channels) {
    return InvalidArgument("controlnet: sample must be [batch, " + std::to_string(t.in_channels) +
                           ", height, width], found " + Shape(sample));
  }
  const int64_t batch = sample.size(0);
  if (!timesteps.defined() || timesteps.dim() > 1 || (timesteps.numel() != 1 && timesteps.numel() != batch)) {
    return InvalidArgument("controlnet: timesteps must be one value or [" + std::to_string(batch) +
                           "], found " + Shape(timesteps));
  }
  if (!context.defined() || context.dim() != 3 || context.size(0) != batch ||
      (t.context_dim > 0 && context.size(2) != t.context_dim)) {
    return InvalidArgument("controlnet: context must be [" + std::to_string(batch) + ", tokens, " +
                           std::to_string(t.context_dim) + "], found " + Shape(context));
  }
  const std::vector<int64_t> expected = {s.hint_channels, sample.size(2) * s.hint_downscale,
                                         sample.size(3) * s.hint_downscale};
  if (!hint.defined() || hint.dim() != 4 || (hint.size(0) != 1 && hint.size(0) != batch) ||
      hint.sizes().slice(1) != at::IntArrayRef(expected)) {
    return InvalidArgument("controlnet: hint image must be [" + std::to_string(batch) + " or 1, " +
                           std::to_string(expected[0]) + ", " + std::to_string(expected[1]) + ", " +
                           std::to_string(expected[2]) + "] (" + std::to_string(s.hint_downscale) +
                           "x the latent's size), found " + Shape(hint));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ControlNet> ControlNet::Create(TensorMap weights, UNetOptions options) {
  return CatchTorchErrors(kComponent, [&]() -> StatusOr<ControlNet> {
    WeightSpec spec;
    FARM_ASSIGN_OR_RETURN(Structure structure, ReadStructure(weights, options, &spec));
    FARM_RETURN_IF_ERROR(spec.Check(weights, kComponent));
    ConvertConvWeightsToChannelsLast(&weights);
    ControlNet net;
    net.weights_ = std::move(weights);
    net.options_ = options;
    net.structure_ = std::make_shared<const Structure>(std::move(structure));
    return net;
  });
}

StatusOr<ControlNet> ControlNet::Load(const std::string& path, UNetOptions options, at::ScalarType dtype,
                                      at::Device device) {
  FARM_ASSIGN_OR_RETURN(ControlNetCheckpoint checkpoint, LoadControlNetCheckpoint(path, at::kFloat));
  StatusOr<ControlNet> net = CatchTorchErrors(path, [&]() -> StatusOr<ControlNet> {
    for (auto& [name, tensor] : checkpoint.weights) tensor = tensor.to(device, dtype).contiguous();
    return Create(std::move(checkpoint.weights), options);
  });
  if (!net.ok()) return net.status().WithContext(path);
  return net;
}

StatusOr<ControlResiduals> ControlNet::Forward(const at::Tensor& sample_in, const at::Tensor& timesteps_in,
                                               const at::Tensor& context_in, const at::Tensor& hint_in,
                                               double scale, DebugTaps* taps) const {
  return CatchTorchErrors("controlnet forward", [&]() -> StatusOr<ControlResiduals> {
    const Structure& s = *structure_;
    FARM_RETURN_IF_ERROR(CheckInputs(s, sample_in, timesteps_in, context_in, hint_in));
    at::NoGradGuard no_grad;
    const Weights w(weights_);
    const at::TensorOptions options = w("conv_in.weight").options();
    const at::Tensor sample = ChannelsLast(sample_in.to(options));
    const at::Tensor context = context_in.to(options);
    const int64_t batch = sample.size(0);

    const at::Tensor features =
        BatchTimestepFeatures(timesteps_in, batch, s.trunk.time_proj_channels, options);
    const at::Tensor temb_silu = at::silu(TimeEmbedding(w, features));

    at::Tensor hint = at::silu(Conv2d(w, kEmbedding + ".conv_in", ChannelsLast(hint_in.to(options))));
    for (int64_t k = 0; k < s.hint_blocks; ++k) {
      hint = at::silu(Conv2d(w, Block(k), hint, BlockStride(k), 1));
    }
    hint = Conv2d(w, kEmbedding + ".conv_out", hint);
    if (taps) (*taps)["hint_embedding"] = hint;

    at::Tensor h = Conv2d(w, "conv_in", sample);
    if (h.sizes().slice(1) != hint.sizes().slice(1)) {
      return InvalidArgument("controlnet: the hint embedding is " + ShapeToString(hint.sizes()) +
                             ", the latent features it is added to " + ShapeToString(h.sizes()));
    }
    h = h + hint;
    if (taps) (*taps)["conv_in"] = h;
    std::vector<at::Tensor> skips;
    h = UNetDownBlocks(w, s.trunk, options_, h, temb_silu, context, &skips, taps);
    h = UNetMidBlock(w, s.trunk, options_, h, temb_silu, context);
    if (taps) (*taps)["mid_block"] = h;

    ControlResiduals out;
    for (size_t i = 0; i < skips.size(); ++i) {
      out.down.push_back(Conv2d(w, "controlnet_down_blocks." + std::to_string(i), skips[i], 1, 0) * scale);
    }
    out.mid = Conv2d(w, "controlnet_mid_block", h, 1, 0) * scale;
    return out;
  });
}

Status ControlNet::CheckFits(const UNet& unet) const {
  auto list = [](const std::vector<int64_t>& values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
    return out + "]";
  };
  std::vector<std::string> problems;
  if (block_out_channels() != unet.block_out_channels()) {
    problems.push_back("block widths " + list(block_out_channels()) + " vs the UNet's " +
                       list(unet.block_out_channels()));
  }
  if (num_residuals() != unet.num_skips()) {
    problems.push_back(std::to_string(num_residuals()) + " down residuals vs the UNet's " +
                       std::to_string(unet.num_skips()) + " skips");
  }
  if (context_dim() != unet.context_dim()) {
    problems.push_back("context width " + std::to_string(context_dim()) + " vs the UNet's " +
                       std::to_string(unet.context_dim()));
  }
  if (in_channels() != unet.in_channels()) {
    problems.push_back(std::to_string(in_channels()) + " input channels vs the UNet's " +
                       std::to_string(unet.in_channels()));
  }
  if (problems.empty()) return Status::Ok();
  std::string message = "the ControlNet does not fit this UNet (is it for another base model?):";
  for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : " ") + problems[i];
  return InvalidArgument(message);
}

int64_t ControlNet::in_channels() const { return structure_->trunk.in_channels; }
int64_t ControlNet::context_dim() const { return structure_->trunk.context_dim; }
int64_t ControlNet::num_residuals() const {
  return static_cast<int64_t>(structure_->trunk.skip_channels.size());
}
int64_t ControlNet::hint_channels() const { return structure_->hint_channels; }
int64_t ControlNet::hint_downscale() const { return structure_->hint_downscale; }
std::vector<int64_t> ControlNet::conditioning_channels() const { return structure_->embedding_channels; }

std::vector<int64_t> ControlNet::block_out_channels() const {
  std::vector<int64_t> channels;
  for (const LevelShape& level : structure_->trunk.down) channels.push_back(level.out);
  return channels;
}

}  // namespace farm::sd
