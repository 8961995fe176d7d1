#include "farm/faceid/landmark_net.h"

#include <algorithm>
#include <cmath>

#include "farm/faceid/preprocess.h"
#include "farm/faceid/weights.h"
#include "tfjs_ops.h"

namespace farm::faceid {
namespace {

using internal::AsChannelVector;
using internal::Conv2dSame;

constexpr int kInputSize = 112;
constexpr int64_t kChannels[4] = {32, 64, 128, 256};

StatusOr<LandmarkNet::SeparableConv> LoadSeparable(const TfjsWeights& w, const std::string& prefix,
                                                   int64_t in, int64_t out) {
  LandmarkNet::SeparableConv conv;
  FARM_ASSIGN_OR_RETURN(at::Tensor depthwise, w.Get(prefix + "/depthwise_filter", {3, 3, in, 1}));
  FARM_ASSIGN_OR_RETURN(at::Tensor pointwise, w.Get(prefix + "/pointwise_filter", {1, 1, in, out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor bias, w.Get(prefix + "/bias", {out}));
  conv.depthwise = internal::DepthwiseFiltersToOihw(depthwise);
  conv.pointwise = internal::ConvFiltersToOihw(pointwise);
  conv.bias = AsChannelVector(bias);
  return conv;
}

StatusOr<LandmarkNet::SeparableConv> LoadPlain(const TfjsWeights& w, const std::string& prefix,
                                               int64_t in, int64_t out) {
  LandmarkNet::SeparableConv conv;
  FARM_ASSIGN_OR_RETURN(at::Tensor filters, w.Get(prefix + "/filters", {3, 3, in, out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor bias, w.Get(prefix + "/bias", {out}));
  conv.pointwise = internal::ConvFiltersToOihw(filters);
  conv.bias = AsChannelVector(bias);
  conv.plain = true;
  return conv;
}

at::Tensor Apply(const at::Tensor& x, const LandmarkNet::SeparableConv& conv, int64_t stride) {
  if (conv.plain) return Conv2dSame(x, conv.pointwise, stride).add_(conv.bias);
  const at::Tensor depthwise = Conv2dSame(x, conv.depthwise, stride, /*groups=*/x.size(1));
  return internal::Conv1x1(depthwise, conv.pointwise).add_(conv.bias);
}

// face-api's denseBlock4 with its order of additions.
at::Tensor ApplyDense(const at::Tensor& x, const LandmarkNet::DenseBlock& block) {
  const at::Tensor out1 = at::relu(Apply(x, block.conv[0], 2));
  const at::Tensor out2 = Apply(out1, block.conv[1], 1);
  const at::Tensor in3 = at::relu(out1 + out2);
  const at::Tensor out3 = Apply(in3, block.conv[2], 1);
  const at::Tensor in4 = at::relu(out1 + (out2 + out3));
  const at::Tensor out4 = Apply(in4, block.conv[3], 1);
  return at::relu(out1 + (out2 + (out3 + out4)));
}

}  // namespace

StatusOr<LandmarkNet> LandmarkNet::FromWeights(const TfjsWeights& weights) {
  LandmarkNet net;
  for (int b = 0; b < 4; ++b) {
    const std::string prefix = "dense" + std::to_string(b) + "/conv";
    const int64_t in = b == 0 ? 3 : kChannels[b - 1];
    const int64_t out = kChannels[b];
    DenseBlock block;
    if (b == 0) {
      FARM_ASSIGN_OR_RETURN(block.conv[0], LoadPlain(weights, prefix + "0", in, out));
    } else {
      FARM_ASSIGN_OR_RETURN(block.conv[0], LoadSeparable(weights, prefix + "0", in, out));
    }
    for (int i = 1; i < 4; ++i) {
      FARM_ASSIGN_OR_RETURN(block.conv[i],
                            LoadSeparable(weights, prefix + std::to_string(i), out, out));
    }
    net.blocks_.push_back(std::move(block));
  }
  FARM_ASSIGN_OR_RETURN(net.fc_weights_, weights.Get("fc/weights", {256, 136}));
  FARM_ASSIGN_OR_RETURN(net.fc_bias_, weights.Get("fc/bias", {136}));
  return net;
}

StatusOr<LandmarkNet> LandmarkNet::Load(const std::string& model_dir) {
  const std::string manifest = model_dir + "/face_landmark_68_model-weights_manifest.json";
  FARM_ASSIGN_OR_RETURN(TfjsWeights weights, TfjsWeights::Load(manifest));
  return FromWeights(weights);
}

at::Tensor LandmarkNet::ForwardInput112(const at::Tensor& input112_hwc) const {
  TORCH_CHECK(input112_hwc.dim() == 3 && input112_hwc.size(0) == kInputSize &&
                  input112_hwc.size(1) == kInputSize && input112_hwc.size(2) == 3,
              "LandmarkNet expects a [112, 112, 3] input, got ", input112_hwc.sizes());
  at::NoGradGuard no_grad;
  at::Tensor x = internal::NormalizeToNchw(input112_hwc, internal::kFaceMeanRgb, 255.0f);
  for (const DenseBlock& block : blocks_) x = ApplyDense(x, block);
  x = at::avg_pool2d(x, {7, 7}, {2, 2});  // [1, 256, 1, 1]
  return (at::matmul(x.reshape({1, 256}), fc_weights_) + fc_bias_).reshape({136});
}

std::vector<std::array<double, 2>> LandmarkNet::PostProcess(const at::Tensor& raw136, int w, int h) {
  // face-api's postProcess: the sizes are JS doubles, the tensor arithmetic float32.
  const at::Tensor raw = raw136.to(at::kFloat).contiguous();
  TORCH_CHECK(raw.numel() == 136, "landmark post-processing expects 136 values, got ", raw.numel());
  const double scale = static_cast<double>(kInputSize) / std::max(w, h);
  const double width = w * scale, height = h * scale;
  const float pad_x = static_cast<float>(width < height ? std::abs(width - height) / 2 : 0.0);
  const float pad_y = static_cast<float>(height < width ? std::abs(width - height) / 2 : 0.0);
  const float width_f = static_cast<float>(width), height_f = static_cast<float>(height);
  const float* v = raw.data_ptr<float>();
  std::vector<std::array<double, 2>> points(68);
  for (int i = 0; i < 68; ++i) {
    const float x = (v[2 * i] * static_cast<float>(kInputSize) - pad_x) / width_f;
    const float y = (v[2 * i + 1] * static_cast<float>(kInputSize) - pad_y) / height_f;
    points[i] = {x, y};
  }
  return points;
}

std::vector<std::array<double, 2>> LandmarkNet::LandmarksRelativeToCrop(const RgbImage& crop) const {
  const at::Tensor raw = ForwardInput112(ToBatchTensor(crop, kInputSize, /*centered=*/true));
  return PostProcess(raw, crop.width, crop.height);
}

}  // namespace farm::faceid
