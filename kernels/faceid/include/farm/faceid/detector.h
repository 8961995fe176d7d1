// face-api's SsdMobilenetv1 face detector: a MobileNet v1 backbone (depthwise-separable
// convolutions, batch norm, ReLU6), SSD prediction layers on six feature maps, boxes
// decoded against the 5118 anchors stored in the weights (variances 10, 10, 5, 5) and
// sigmoid face scores. Float32 on CPU, deterministic.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/faceid/ssd_postprocess.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

class TfjsWeights;
namespace internal {
struct SsdParams;
}

class SsdMobilenetV1 {
 public:
  // Loads <model_dir>/ssd_mobilenetv1_model-weights_manifest.json (+ .bin).
  static StatusOr<SsdMobilenetV1> Load(const std::string& model_dir);
  // From already-loaded weights; every tensor's shape is checked.
  static StatusOr<SsdMobilenetV1> FromWeights(const TfjsWeights& weights);

  // toBatchTensor(512, centered=false), x/127.5 - 1, the net: raw scores and boxes.
  // Errors for an empty image.
  StatusOr<SsdRawOutput> Forward(const RgbImage& image) const;
  // The net on a prepared input: float32 [512, 512, 3], values 0..255. Errors for
  // another shape (and for libtorch failures, which are caught here).
  StatusOr<SsdRawOutput> ForwardInput512(const at::Tensor& input512_hwc) const;
  // Forward + SsdPostProcess. An empty image has no faces.
  StatusOr<std::vector<Detection>> Detect(const RgbImage& image, double min_confidence = 0.5,
                                          int max_results = 100) const;

 private:
  std::shared_ptr<const internal::SsdParams> params_;
};

}  // namespace farm::faceid
