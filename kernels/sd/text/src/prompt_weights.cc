// ApplyPromptWeights: A1111's "Original" emphasis on CLIP's output.
#include <string>
#include <vector>

#include "farm/sd/prompt.h"

namespace farm::sd {

StatusOr<at::Tensor> ApplyPromptWeights(const at::Tensor& z, const std::vector<float>& weights,
                                        int64_t chunk_tokens) {
  if (!z.defined() || (z.dim() != 2 && z.dim() != 3)) {
    return InvalidArgument("prompt weights: expected z of shape [B, T, C] or [T, C], got " +
                           (z.defined() ? std::to_string(z.dim()) + " dimensions" : std::string("no tensor")));
  }
  if (!z.is_floating_point()) return InvalidArgument("prompt weights: z must be a floating-point tensor");
  const at::Tensor batched = z.dim() == 2 ? z.unsqueeze(0) : z;
  const int64_t tokens = batched.size(1);
  if (tokens != static_cast<int64_t>(weights.size())) {
    return InvalidArgument("prompt weights: z has " + std::to_string(tokens) + " tokens but " +
                           std::to_string(weights.size()) + " weights were given");
  }
  if (chunk_tokens <= 0 || tokens % chunk_tokens != 0) {
    return InvalidArgument("prompt weights: " + std::to_string(tokens) +
                           " tokens are not a whole number of chunks of " + std::to_string(chunk_tokens));
  }
  try {
    const at::Tensor all_weights =
        at::from_blob(const_cast<float*>(weights.data()), {tokens}, at::kFloat)
            .to(batched.device(), batched.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
    std::vector<at::Tensor> chunks;
    for (int64_t start = 0; start < tokens; start += chunk_tokens) {
      const at::Tensor chunk = batched.narrow(1, start, chunk_tokens);
      const at::Tensor chunk_weights = all_weights.narrow(0, start, chunk_tokens).view({1, chunk_tokens, 1});
      const at::Tensor original_mean = chunk.mean();
      const at::Tensor weighted = chunk * chunk_weights;
      const at::Tensor new_mean = weighted.mean();
      // The mean is restored, as A1111 does to avoid artifacts; a zero mean cannot be.
      const at::Tensor scale = at::where(new_mean == 0, at::ones_like(new_mean), original_mean / new_mean);
      chunks.push_back(weighted * scale);
    }
    at::Tensor out = at::cat(chunks, 1);
    return z.dim() == 2 ? out.squeeze(0) : out;
  } catch (const c10::Error& e) {
    return InvalidArgument(std::string("prompt weights: ") + e.what_without_backtrace());
  }
}

}  // namespace farm::sd
