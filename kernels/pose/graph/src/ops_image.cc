// Image resizing with tfjs-backend-cpu's arithmetic (source coordinates and weights in
// double, the result stored as float32), so outputs match the reference bit for bit
// where tfjs's do.
#include <cmath>

#include "kernel.h"

namespace farm::pose::internal {
namespace {

using Args = std::vector<Value>;
using Prep = Prepared;

struct Axis {
  std::vector<int64_t> lo, hi;
  std::vector<double> frac;
};

// Output index -> source neighbours and weight, as tfjs's ResizeBilinear computes them.
Axis BilinearAxis(int64_t in, int64_t out, bool align_corners, bool half_pixel) {
  const double ratio = static_cast<double>(align_corners && out > 1 ? in - 1 : in) /
                       static_cast<double>(align_corners && out > 1 ? out - 1 : out);
  Axis a;
  for (int64_t i = 0; i < out; ++i) {
    const double src =
        half_pixel ? ratio * (static_cast<double>(i) + 0.5) - 0.5 : ratio * static_cast<double>(i);
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(src)));
    const int64_t hi = std::min<int64_t>(in - 1, static_cast<int64_t>(std::ceil(src)));
    a.lo.push_back(lo);
    a.hi.push_back(hi);
    a.frac.push_back(src - static_cast<double>(lo));
  }
  return a;
}

std::vector<Value> ResizeBilinear(const Node& n, const Args& in, const Prep&) {
  const at::Tensor x = TensorArg(n, in, 0).to(at::kFloat).contiguous();
  const std::vector<int64_t> size = IntValues(TensorArg(n, in, 1));
  if (x.dim() != 4 || size.size() != 2 || size[0] <= 0 || size[1] <= 0)
    Fail("expects NHWC images and a [height, width] size");
  const bool align = n.Bool("align_corners", false), half = n.Bool("half_pixel_centers", false);
  const int64_t batch = x.size(0), ih = x.size(1), iw = x.size(2), c = x.size(3), oh = size[0],
                ow = size[1];
  const Axis rows = BilinearAxis(ih, oh, align, half);
  const Axis cols = BilinearAxis(iw, ow, align, half);
  at::Tensor out = at::empty({batch, oh, ow, c}, at::kFloat);
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float* image = src + b * ih * iw * c;
    for (int64_t r = 0; r < oh; ++r) {
      const float* top_row = image + rows.lo[static_cast<size_t>(r)] * iw * c;
      const float* bottom_row = image + rows.hi[static_cast<size_t>(r)] * iw * c;
      const double wr = rows.frac[static_cast<size_t>(r)];
      for (int64_t col = 0; col < ow; ++col) {
        const int64_t l = cols.lo[static_cast<size_t>(col)] * c,
                      h = cols.hi[static_cast<size_t>(col)] * c;
        const double wc = cols.frac[static_cast<size_t>(col)];
        for (int64_t d = 0; d < c; ++d) {
          const double tl = top_row[l + d], tr = top_row[h + d], bl = bottom_row[l + d],
                       br = bottom_row[h + d];
          const double top = tl + (tr - tl) * wc;
          const double bottom = bl + (br - bl) * wc;
          *dst++ = static_cast<float>(top + (bottom - top) * wr);
        }
      }
    }
  }
  return One(out);
}

std::vector<Value> ResizeNearest(const Node& n, const Args& in, const Prep&) {
  const at::Tensor x = TensorArg(n, in, 0).contiguous();
  const std::vector<int64_t> size = IntValues(TensorArg(n, in, 1));
  if (x.dim() != 4 || size.size() != 2 || size[0] <= 0 || size[1] <= 0)
    Fail("expects NHWC images and a [height, width] size");
  const bool align = n.Bool("align_corners", false), half = n.Bool("half_pixel_centers", false);
  auto index = [&](int64_t in_size, int64_t out_size) {
    const double ratio = static_cast<double>(align && out_size > 1 ? in_size - 1 : in_size) /
                         static_cast<double>(align && out_size > 1 ? out_size - 1 : out_size);
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < out_size; ++i) {
      const double src = ratio * (half ? static_cast<double>(i) + 0.5 : static_cast<double>(i));
      int64_t v =
          align ? static_cast<int64_t>(std::round(src)) : static_cast<int64_t>(std::floor(src));
      idx.push_back(std::min<int64_t>(in_size - 1, std::max<int64_t>(0, v)));
    }
    return at::tensor(idx, at::kLong);
  };
  return One(
      x.index_select(1, index(x.size(1), size[0])).index_select(2, index(x.size(2), size[1])));
}

}  // namespace

void AddImageKernels(KernelMap& m) {
  m["ResizeBilinear"] = {ResizeBilinear};
  m["ResizeNearestNeighbor"] = {ResizeNearest};
}

}  // namespace farm::pose::internal
