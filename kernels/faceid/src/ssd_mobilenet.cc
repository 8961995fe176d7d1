#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "farm/faceid/detector.h"
#include "farm/faceid/preprocess.h"
#include "farm/faceid/weights.h"
#include "channel_ops.h"
#include "ssd_output_layer.h"
#include "ssd_params.h"
#include "tfjs_ops.h"

namespace farm::faceid {
using internal::SsdBoxPredictor;
using internal::SsdDepthwiseConv;
using internal::SsdParams;
using internal::SsdPointwiseConv;

namespace {

// tf.batchNorm's variance epsilon in face-api (the float32 0.001 as a JS number).
constexpr double kBatchNormEpsilon = 0.0010000000474974513;
// tf.scalar(0.007843137718737125): float32(1 / 127.5).
constexpr float kInputScale = 0.007843137718737125f;

StatusOr<SsdPointwiseConv> LoadPointwise(const TfjsWeights& w, const std::string& prefix, int k,
                                         int64_t in, int64_t out, int stride) {
  SsdPointwiseConv conv;
  FARM_ASSIGN_OR_RETURN(at::Tensor filters, w.Get(prefix + "/weights", {k, k, in, out}));
  FARM_ASSIGN_OR_RETURN(at::Tensor bias, w.Get(prefix + "/convolution_bn_offset", {out}));
  const at::Tensor b = bias.contiguous();
  conv.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + out);
  conv.weight = internal::ConvFiltersToOihw(filters);
  conv.stride = stride;
  return conv;
}

StatusOr<SsdDepthwiseConv> LoadDepthwise(const TfjsWeights& w, const std::string& prefix,
                                         int64_t channels, int stride) {
  SsdDepthwiseConv conv;
  FARM_ASSIGN_OR_RETURN(at::Tensor filters,
                        w.Get(prefix + "/depthwise_weights", {3, 3, channels, 1}));
  conv.weight = internal::DepthwiseFiltersToOihw(filters);  // [C, 1, 3, 3]
  const auto as_doubles = [&](const std::string& name) -> StatusOr<std::vector<double>> {
    FARM_ASSIGN_OR_RETURN(at::Tensor t, w.Get(prefix + "/BatchNorm/" + name, {channels}));
    const at::Tensor d = t.to(at::kDouble).contiguous();
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + channels);
  };
  FARM_ASSIGN_OR_RETURN(conv.scale, as_doubles("gamma"));
  FARM_ASSIGN_OR_RETURN(conv.offset, as_doubles("beta"));
  FARM_ASSIGN_OR_RETURN(conv.mean, as_doubles("moving_mean"));
  FARM_ASSIGN_OR_RETURN(std::vector<double> variance, as_doubles("moving_variance"));
  for (double v : variance) conv.denominator.push_back(std::sqrt(v + kBatchNormEpsilon));
  conv.stride = stride;
  return conv;
}

StatusOr<SsdBoxPredictor> LoadBoxPredictor(const TfjsWeights& w, int index, int64_t in,
                                           int64_t anchors) {
  const std::string prefix = "Prediction/BoxPredictor_" + std::to_string(index);
  SsdBoxPredictor p;
  FARM_ASSIGN_OR_RETURN(at::Tensor box_w,
                        w.Get(prefix + "/BoxEncodingPredictor/weights", {1, 1, in, anchors * 4}));
  FARM_ASSIGN_OR_RETURN(at::Tensor box_bias,
                        w.Get(prefix + "/BoxEncodingPredictor/biases", {anchors * 4}));
  FARM_ASSIGN_OR_RETURN(at::Tensor cls_w,
                        w.Get(prefix + "/ClassPredictor/weights", {1, 1, in, anchors * 3}));
  FARM_ASSIGN_OR_RETURN(at::Tensor class_bias,
                        w.Get(prefix + "/ClassPredictor/biases", {anchors * 3}));
  p.box_bias = box_bias.contiguous();
  p.class_bias = class_bias.contiguous();
  p.box_weight = internal::ConvFiltersToOihw(box_w);
  p.class_weight = internal::ConvFiltersToOihw(cls_w);
  return p;
}

// The net runs channels-last (NHWC), tfjs's own layout: oneDNN convolves it without
// reorders and the per-channel passes run over contiguous channels. These views
// convert between a channels-last [1, C, H, W] tensor and its [H*W, C] rows.
at::Tensor AsRows(const at::Tensor& x) {
  return x.contiguous(at::MemoryFormat::ChannelsLast).permute({0, 2, 3, 1}).reshape({-1, x.size(1)});
}
at::Tensor FromRows(const at::Tensor& rows, int64_t h, int64_t w) {
  return rows.view({1, h, w, rows.size(1)}).permute({0, 3, 1, 2});
}

at::Tensor RunPointwise(const at::Tensor& x, const SsdPointwiseConv& conv) {
  // tfjs adds the bias after the convolution, as a separate float32 op; then ReLU6.
  const bool one_by_one = conv.weight.size(2) == 1 && conv.stride == 1;
  at::Tensor y = AsRows(one_by_one ? internal::Conv1x1(x, conv.weight)
                                   : internal::Conv2dSame(x, conv.weight, conv.stride));
  const int64_t stride = conv.stride;
  const int64_t h = (x.size(2) + stride - 1) / stride, w = (x.size(3) + stride - 1) / stride;
  internal::AddBiasRelu6(y.data_ptr<float>(), y.size(0), y.size(1), conv.bias.data());
  return FromRows(y, h, w);
}

at::Tensor RunDepthwise(const at::Tensor& x, const SsdDepthwiseConv& conv) {
  const at::Tensor y = internal::Conv2dSame(x, conv.weight, conv.stride, x.size(1));
  at::Tensor rows = AsRows(y);
  // tfjs cpu batchNorm: offset + (x - mean) * scale / sqrt(variance + eps) in double,
  // stored as float32, then ReLU6; one pass in place (no double tensors).
  internal::BatchNormRelu6(rows.data_ptr<float>(), rows.size(0), rows.size(1), conv.mean.data(),
                           conv.scale.data(), conv.offset.data(), conv.denominator.data());
  return FromRows(rows, y.size(2), y.size(3));
}

// The whole net on a [512, 512, 3] input (values 0..255).
SsdRawOutput RunNet(const SsdParams& p, const at::Tensor& input512_hwc) {
  const at::Tensor input = input512_hwc.to(at::kFloat).mul(kInputScale).sub(1.0f).contiguous();
  at::Tensor x = input.unsqueeze(0).permute({0, 3, 1, 2});  // channels-last [1, 3, 512, 512]

  x = RunPointwise(x, p.conv0);
  at::Tensor conv11;
  for (size_t i = 0; i < p.pairs.size(); ++i) {
    x = RunDepthwise(x, p.pairs[i].first);
    x = RunPointwise(x, p.pairs[i].second);
    if (i + 1 == 11) conv11 = x;
  }
  std::array<at::Tensor, 8> pred;
  at::Tensor h = x;
  for (int i = 0; i < 8; ++i) {
    h = RunPointwise(h, p.prediction[i]);
    pred[i] = h;
  }
  const std::array<at::Tensor, 6> features = {conv11, x, pred[1], pred[3], pred[5], pred[7]};
  std::vector<at::Tensor> encodings, logits;
  for (int i = 0; i < 6; ++i) {
    const SsdBoxPredictor& bp = p.box_predictors[i];
    // [H*W, A*k] rows are tfjs's NHWC order: reshaped, one row per anchor.
    encodings.push_back(
        AsRows(internal::Conv1x1(features[i], bp.box_weight)).add_(bp.box_bias).reshape({-1, 4}));
    logits.push_back(
        AsRows(internal::Conv1x1(features[i], bp.class_weight)).add_(bp.class_bias).reshape({-1, 3}));
  }
  return internal::SsdOutputLayer(at::cat(encodings, 0), p.anchors, at::cat(logits, 0));
}

}  // namespace

StatusOr<SsdMobilenetV1> SsdMobilenetV1::FromWeights(const TfjsWeights& w) {
  auto params = std::make_shared<SsdParams>();
  FARM_ASSIGN_OR_RETURN(params->conv0,
                        LoadPointwise(w, "MobilenetV1/Conv2d_0_pointwise", 3, 3, 32, 2));
  // (depthwise channels, pointwise out) of MobilenetV1/Conv2d_1 .. Conv2d_13.
  static constexpr int64_t kChannels[13][2] = {
      {32, 64},   {64, 128},  {128, 128}, {128, 256}, {256, 256},  {256, 512},  {512, 512},
      {512, 512}, {512, 512}, {512, 512}, {512, 512}, {512, 1024}, {1024, 1024}};
  for (int i = 1; i <= 13; ++i) {
    const int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
    const std::string base = "MobilenetV1/Conv2d_" + std::to_string(i);
    const int64_t in = kChannels[i - 1][0], out = kChannels[i - 1][1];
    FARM_ASSIGN_OR_RETURN(SsdDepthwiseConv dw, LoadDepthwise(w, base + "_depthwise", in, stride));
    FARM_ASSIGN_OR_RETURN(SsdPointwiseConv pw,
                          LoadPointwise(w, base + "_pointwise", 1, in, out, 1));
    params->pairs.emplace_back(std::move(dw), std::move(pw));
  }
  // Prediction/Conv2d_0 .. 7: kernel, in, out, stride.
  static constexpr int64_t kPrediction[8][4] = {
      {1, 1024, 256, 1}, {3, 256, 512, 2}, {1, 512, 128, 1}, {3, 128, 256, 2},
      {1, 256, 128, 1},  {3, 128, 256, 2}, {1, 256, 64, 1},  {3, 64, 128, 2}};
  for (int i = 0; i < 8; ++i) {
    FARM_ASSIGN_OR_RETURN(SsdPointwiseConv conv,
                          LoadPointwise(w, "Prediction/Conv2d_" + std::to_string(i) + "_pointwise",
                                        static_cast<int>(kPrediction[i][0]), kPrediction[i][1],
                                        kPrediction[i][2], static_cast<int>(kPrediction[i][3])));
    params->prediction.push_back(std::move(conv));
  }
  // Box predictor inputs: conv11 (512 ch, 3 anchors), the backbone output (1024, 6),
  // Prediction conv1 (512), conv3 (256), conv5 (256), conv7 (128), 6 anchors each.
  static constexpr int64_t kPredictorIn[6][2] = {{512, 3}, {1024, 6}, {512, 6},
                                                 {256, 6}, {256, 6},  {128, 6}};
  for (int i = 0; i < 6; ++i) {
    FARM_ASSIGN_OR_RETURN(params->box_predictors[i],
                          LoadBoxPredictor(w, i, kPredictorIn[i][0], kPredictorIn[i][1]));
  }
  FARM_ASSIGN_OR_RETURN(at::Tensor anchors, w.Get("Output/extra_dim", {1, kSsdNumAnchors, 4}));
  params->anchors = anchors.reshape({kSsdNumAnchors, 4}).contiguous();
  SsdMobilenetV1 net;
  net.params_ = std::move(params);
  return net;
}

StatusOr<SsdMobilenetV1> SsdMobilenetV1::Load(const std::string& model_dir) {
  const std::string manifest = model_dir + "/ssd_mobilenetv1_model-weights_manifest.json";
  FARM_ASSIGN_OR_RETURN(TfjsWeights weights, TfjsWeights::Load(manifest));
  auto net = FromWeights(weights);
  if (!net.ok()) return net.status().WithContext(manifest);
  return net;
}

StatusOr<SsdRawOutput> SsdMobilenetV1::ForwardInput512(const at::Tensor& input512_hwc) const {
  if (input512_hwc.dim() != 3 || input512_hwc.size(0) != kSsdInputSize ||
      input512_hwc.size(1) != kSsdInputSize || input512_hwc.size(2) != 3) {
    std::string shape;
    for (int64_t d : input512_hwc.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return InvalidArgument(
        "SsdMobilenetV1::ForwardInput512: expected a [512, 512, 3] tensor, got [" + shape + "]");
  }
  try {
    return RunNet(*params_, input512_hwc);
  } catch (const c10::Error& e) {
    return Internal(std::string("SsdMobilenetV1: libtorch failed: ") + e.what_without_backtrace());
  }
}

StatusOr<SsdRawOutput> SsdMobilenetV1::Forward(const RgbImage& image) const {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != size_t(image.width) * size_t(image.height) * 3) {
    return InvalidArgument("SsdMobilenetV1::Forward: empty or inconsistent image " +
                           std::to_string(image.width) + "x" + std::to_string(image.height));
  }
  return ForwardInput512(ToBatchTensor(image, kSsdInputSize, /*centered=*/false));
}

StatusOr<std::vector<Detection>> SsdMobilenetV1::Detect(const RgbImage& image,
                                                        double min_confidence,
                                                        int max_results) const {
  if (image.width <= 0 || image.height <= 0) return std::vector<Detection>{};
  FARM_ASSIGN_OR_RETURN(SsdRawOutput raw, Forward(image));
  return SsdPostProcess(raw, image.width, image.height, min_confidence, max_results);
}

}  // namespace farm::faceid
