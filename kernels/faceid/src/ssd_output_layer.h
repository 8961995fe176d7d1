// face-api's SSD output layer: box encodings decoded against the anchors (variances 10,
// 10, 5, 5), face scores = sigmoid(logit of class 1). Every step is a float32 op as in
// tfjs; exp and sigmoid are computed in double and rounded, as tfjs's cpu kernels do.
#pragma once

#include <ATen/ATen.h>

#include "farm/faceid/ssd_postprocess.h"

namespace farm::faceid::internal {

// encodings: [N, 4] float32; anchors: [N, 4] float32; class_logits: [N, 3] float32.
SsdRawOutput SsdOutputLayer(const at::Tensor& encodings, const at::Tensor& anchors,
                            const at::Tensor& class_logits);

}  // namespace farm::faceid::internal
