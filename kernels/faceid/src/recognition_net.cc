#include "farm/faceid/recognition_net.h"

#include <cstring>

#include "farm/faceid/preprocess.h"
#include "farm/faceid/weights.h"
#include "tfjs_ops.h"

namespace farm::faceid {
namespace {

using internal::AsChannelVector;
using internal::ConvFiltersToOihw;

// The blocks after the stem: name, output channels, whether it halves the size.
struct BlockSpec {
  const char* name;
  int64_t in_channels;
  int64_t channels;
  bool down;
};
constexpr BlockSpec kBlocks[] = {
    {"conv32_1", 32, 32, false},       {"conv32_2", 32, 32, false},
    {"conv32_3", 32, 32, false},       {"conv64_down", 32, 64, true},
    {"conv64_1", 64, 64, false},       {"conv64_2", 64, 64, false},
    {"conv64_3", 64, 64, false},       {"conv128_down", 64, 128, true},
    {"conv128_1", 128, 128, false},    {"conv128_2", 128, 128, false},
    {"conv256_down", 128, 256, true},  {"conv256_1", 256, 256, false},
    {"conv256_2", 256, 256, false},    {"conv256_down_out", 256, 256, true},
};

StatusOr<RecognitionNet::ConvLayer> LoadConvLayer(const TfjsWeights& w, const std::string& prefix,
                                                  int64_t k, int64_t in, int64_t out) {
  RecognitionNet::ConvLayer layer;
  FARM_ASSIGN_OR_RETURN(at::Tensor filters, w.Get(prefix + "/conv/filters", {k, k, in, out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor bias, w.Get(prefix + "/conv/bias", {out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor scale_w, w.Get(prefix + "/scale/weights", {out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor scale_b, w.Get(prefix + "/scale/biases", {out}));
  layer.filters = ConvFiltersToOihw(filters);
  layer.bias = AsChannelVector(bias);
  layer.scale_weights = AsChannelVector(scale_w);
  layer.scale_biases = AsChannelVector(scale_b);
  return layer;
}

// conv (+bias) then scale, as face-api's convLayer; 'same' here is always 3x3/1.
at::Tensor ApplyConv(const at::Tensor& x, const RecognitionNet::ConvLayer& layer, bool down,
                     bool relu) {
  at::Tensor out = down ? internal::Conv2d(x, layer.filters, /*stride=*/2, 0, 0)
                        : internal::Conv2dSame(x, layer.filters, 1);
  // In place, in face-api's order: + bias, * scale weights, + scale biases.
  out.add_(layer.bias).mul_(layer.scale_weights).add_(layer.scale_biases);
  return relu ? out.relu_() : out;
}

at::Tensor ApplyBlock(const at::Tensor& x, const RecognitionNet::ResidualBlock& block) {
  at::Tensor out = ApplyConv(x, block.conv1, block.down, /*relu=*/true);
  out = ApplyConv(out, block.conv2, /*down=*/false, /*relu=*/false);
  if (!block.down) return out.add_(x).relu_();

  at::Tensor pooled = at::avg_pool2d(x, {2, 2}, {2, 2});
  if (pooled.size(2) != out.size(2) || pooled.size(3) != out.size(3)) {
    // face-api appends one zero row and one zero column to the conv branch.
    out = at::constant_pad_nd(out, {0, 1, 0, 1}, 0.0);
  }
  if (pooled.size(1) != out.size(1)) {
    pooled = at::cat({pooled, at::zeros_like(pooled)}, 1);
  }
  return at::relu(pooled + out);
}

}  // namespace

StatusOr<RecognitionNet> RecognitionNet::FromWeights(const TfjsWeights& weights) {
  RecognitionNet net;
  FARM_ASSIGN_OR_RETURN(net.conv32_down_, LoadConvLayer(weights, "conv32_down", 7, 3, 32));
  for (const BlockSpec& spec : kBlocks) {
    ResidualBlock block;
    block.down = spec.down;
    const std::string name = spec.name;
    FARM_ASSIGN_OR_RETURN(block.conv1,
                          LoadConvLayer(weights, name + "/conv1", 3, spec.in_channels, spec.channels));
    FARM_ASSIGN_OR_RETURN(block.conv2,
                          LoadConvLayer(weights, name + "/conv2", 3, spec.channels, spec.channels));
    net.blocks_.push_back(std::move(block));
  }
  FARM_ASSIGN_OR_RETURN(net.fc_, weights.Get("fc", {256, 128}));
  net.fc_ = net.fc_.contiguous();
  return net;
}

StatusOr<RecognitionNet> RecognitionNet::Load(const std::string& model_dir) {
  const std::string manifest = model_dir + "/face_recognition_model-weights_manifest.json";
  FARM_ASSIGN_OR_RETURN(TfjsWeights weights, TfjsWeights::Load(manifest));
  return FromWeights(weights);
}

at::Tensor RecognitionNet::ForwardInput150(const at::Tensor& input150_hwc) const {
  TORCH_CHECK(input150_hwc.dim() == 3 && input150_hwc.size(0) == 150 &&
                  input150_hwc.size(1) == 150 && input150_hwc.size(2) == 3,
              "RecognitionNet expects a [150, 150, 3] input, got ", input150_hwc.sizes());
  at::NoGradGuard no_grad;
  at::Tensor x = internal::NormalizeToNchw(input150_hwc, internal::kFaceMeanRgb, 255.0f);
  x = ApplyConv(x, conv32_down_, /*down=*/true, /*relu=*/true);
  x = at::max_pool2d(x, {3, 3}, {2, 2});
  for (const ResidualBlock& block : blocks_) x = ApplyBlock(x, block);
  const at::Tensor mean = x.mean({2, 3});  // [1, 256]
  return at::matmul(mean, fc_).reshape({128});
}

std::array<float, 128> RecognitionNet::Describe(const RgbImage& chip) const {
  const at::Tensor descriptor = ForwardInput150(ToBatchTensor(chip, 150, /*centered=*/true)).contiguous();
  std::array<float, 128> out{};
  std::memcpy(out.data(), descriptor.data_ptr<float>(), sizeof(float) * out.size());
  return out;
}

}  // namespace farm::faceid
