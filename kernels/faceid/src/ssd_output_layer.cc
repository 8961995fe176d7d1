#include "ssd_output_layer.h"

#include <cmath>

namespace farm::faceid::internal {

SsdRawOutput SsdOutputLayer(const at::Tensor& encodings, const at::Tensor& anchors,
                            const at::Tensor& class_logits) {
  const at::Tensor enc = encodings.to(at::kFloat).contiguous();
  const at::Tensor anc = anchors.to(at::kFloat).contiguous();
  const at::Tensor cls = class_logits.to(at::kFloat).contiguous();
  const int64_t n = enc.size(0);
  const float* e = enc.data_ptr<float>();
  const float* a = anc.data_ptr<float>();
  const float* c = cls.data_ptr<float>();

  SsdRawOutput out;
  out.scores.resize(n);
  out.boxes.resize(n * 4);
  for (int64_t i = 0; i < n; ++i) {
    const float* ai = a + 4 * i;
    const float* ei = e + 4 * i;
    // getCenterCoordinatesAndSizesLayer
    const float size0 = ai[2] - ai[0];
    const float size1 = ai[3] - ai[1];
    const float center0 = ai[0] + size0 / 2.0f;
    const float center1 = ai[1] + size1 / 2.0f;
    // decodeBoxesLayer
    const float exp0 = static_cast<float>(std::exp(static_cast<double>(ei[2] / 5.0f)));
    const float exp1 = static_cast<float>(std::exp(static_cast<double>(ei[3] / 5.0f)));
    const float div0 = (exp0 * size0) / 2.0f;
    const float add0 = (ei[0] / 10.0f) * size0 + center0;
    const float div1 = (exp1 * size1) / 2.0f;
    const float add1 = (ei[1] / 10.0f) * size1 + center1;
    out.boxes[4 * i] = add0 - div0;
    out.boxes[4 * i + 1] = add1 - div1;
    out.boxes[4 * i + 2] = add0 + div0;
    out.boxes[4 * i + 3] = add1 + div1;
    // sigmoid of the face class
    const double logit = c[3 * i + 1];
    out.scores[i] = static_cast<float>(1.0 / (1.0 + std::exp(-logit)));
  }
  return out;
}

}  // namespace farm::faceid::internal
