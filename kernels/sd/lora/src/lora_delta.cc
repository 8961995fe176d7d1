#include <ATen/ATen.h>

#include "farm/sd/lora_merge.h"
#include "lycoris_module.h"

namespace farm::sd {

std::vector<int64_t> LoraWeightShape(const LoraModule& module) {
  if (module.kind != LoraModuleKind::kLora) return LycorisProductShape(module);
  std::vector<int64_t> shape = {module.up.size(0), module.down.size(1)};
  if (module.mid.defined()) {
    shape.push_back(module.mid.size(2));
    shape.push_back(module.mid.size(3));
  } else if (module.down.dim() == 4) {
    shape.push_back(module.down.size(2));
    shape.push_back(module.down.size(3));
  }
  return shape;
}

at::Tensor LoraDelta(const LoraModule& module, double multiplier, const at::Device& device) {
  if (module.kind != LoraModuleKind::kLora) {
    // LoKr without a low-rank factor has no rank: scale 1, as in A1111.
    const double scale = module.rank > 0 ? module.alpha / static_cast<double>(module.rank) : 1.0;
    return LycorisProduct(module, device).mul_(multiplier).mul_(scale);
  }
  at::Tensor up = module.up.to(device, at::kFloat);
  at::Tensor down = module.down.to(device, at::kFloat);
  // Linear: [out,r] @ [r,in]. Conv: up [out,r,1,1] -> [out,r]; down [r,in,kh,kw] ->
  // [r, in*kh*kw]; the product reshaped to [out,in,kh,kw] is the weight of the conv
  // `up(down(x))` (a 1x1 conv after a kxk one), which is what kohya's conv2d-based merge
  // computes.
  at::Tensor product;
  if (module.mid.defined()) {
    // Tucker LoCon: up (1x1) after mid (kxk) after down (1x1) is one kxk conv with weight
    // W[o,i,k,l] = sum_{n,m} up[o,n] mid[n,m,k,l] down[m,i].
    product = at::einsum("nmkl,in,mj->ijkl",
                         {module.mid.to(device, at::kFloat), up.flatten(1), down.flatten(1)});
  } else {
    product = at::matmul(up.flatten(1), down.flatten(1)).reshape(LoraWeightShape(module));
  }
  // Multiplier first, then alpha/rank, each as a float32 scalar: the order kohya uses.
  return product.mul_(multiplier).mul_(module.alpha / static_cast<double>(module.rank));
}

}  // namespace farm::sd
