// Attention over many tokens runs in blocks of query rows (at most 16 MB of scores at a
// time). Under autograd the blocks are concatenated instead of written into one output,
// and the gradients must equal plain attention's: checked at 2304 tokens, where the rows
// are split into blocks (the tiny model's latents never get there).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "layers.h"  // kernels/sd/models/src

namespace farm::sd {
namespace {

at::Tensor PlainAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads) {
  const int64_t b = q.size(0), n = q.size(1), c = q.size(2), m = k.size(1), d = c / heads;
  auto split = [&](const at::Tensor& x, int64_t len) { return x.reshape({b, len, heads, d}).permute({0, 2, 1, 3}); };
  at::Tensor scores = at::matmul(split(q, n), split(k, m).transpose(-1, -2)) / std::sqrt(static_cast<double>(d));
  at::Tensor out = at::matmul(at::softmax(scores, -1), split(v, m));
  return out.permute({0, 2, 1, 3}).reshape({b, n, c});
}

TEST(BlockedAttentionTest, GradientsEqualPlainAttentionWhenRowsAreBlocked) {
  at::manual_seed(1);
  const int64_t tokens = 2304, channels = 16, heads = 8;  // 2304 x 2304 x 4 B x 8 heads: blocked
  const at::Tensor q0 = at::randn({1, tokens, channels}), k0 = at::randn({1, tokens, channels});
  const at::Tensor v0 = at::randn({1, tokens, channels}), upstream = at::randn({1, tokens, channels});
  auto run = [&](bool blocked) {
    at::Tensor q = q0.clone().requires_grad_(true), k = k0.clone().requires_grad_(true);
    at::Tensor v = v0.clone().requires_grad_(true);
    at::Tensor out = blocked ? MultiHeadAttention(q, k, v, heads) : PlainAttention(q, k, v, heads);
    (out * upstream).sum().backward();
    return std::vector<at::Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
  };
  const std::vector<at::Tensor> blocked = run(true), plain = run(false);
  const char* names[] = {"output", "dq", "dk", "dv"};
  for (size_t i = 0; i < blocked.size(); ++i) {
    ASSERT_TRUE(blocked[i].defined()) << names[i];
    EXPECT_TRUE(at::allclose(blocked[i], plain[i], 1e-4, 1e-5))
        << names[i] << ": max diff " << (blocked[i] - plain[i]).abs().max().item<double>();
  }
  // Without autograd the same function takes its out= path: the same output.
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(MultiHeadAttention(q0, k0, v0, heads), plain[0], 1e-4, 1e-5));
}

}  // namespace
}  // namespace farm::sd
