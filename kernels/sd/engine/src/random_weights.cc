#include "farm/sd/random_weights.h"

#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string_view>

namespace farm::sd {
namespace {

// FNV-1a over the name, mixed with the seed (splitmix64 finaliser): a stable per-tensor
// seed that needs no state.
uint64_t TensorSeed(uint64_t seed, std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  uint64_t z = h ^ (seed + 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}


}  // namespace

TensorMap RandomWeights(const WeightShapes& shapes, uint64_t seed, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  TensorMap out;
  for (const auto& [name, shape] : shapes) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(TensorSeed(seed, name));
    at::Tensor t = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
    if (shape.size() == 1) {
      // Norm scales near one, shifts and biases small: a usable, non-degenerate model.
      t.mul_(0.1);
      if (EndsWith(name, ".weight")) t.add_(1.0);  // 1-D weights are norm scales
    } else {
      int64_t fan_in = 1;
      for (size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
      // Embedding tables are indexed, not multiplied: keep them at unit scale.
      const bool lookup_table = EndsWith(name, "token_embedding.weight") ||
                                EndsWith(name, "position_embedding.weight");
      if (!lookup_table) {
        t.mul_(1.0 / std::sqrt(static_cast<double>(fan_in)));
      }
    }
    out.emplace(name, dtype == at::kFloat ? t : t.to(dtype));
  }
  return out;
}

SdWeights RandomSdWeights(const SdArchitecture& arch, uint64_t seed, at::ScalarType dtype) {
  SdWeights weights;
  weights.unet = RandomWeights(UNetWeightShapes(arch.unet), seed, dtype);
  weights.vae = RandomWeights(VaeWeightShapes(arch.vae), seed, dtype);
  weights.text_encoder = RandomWeights(ClipTextWeightShapes(arch.text), seed, dtype);
  return weights;
}

StatusOr<UNet> RandomUNet(const SdArchitecture& arch, uint64_t seed) {
  UNetOptions options;
  options.num_heads = arch.unet.heads;
  options.norm_groups = arch.unet.norm_groups;
  return UNet::Create(RandomWeights(UNetWeightShapes(arch.unet), seed, at::kFloat), options);
}

StatusOr<ClipTextModel> RandomTextEncoder(const SdArchitecture& arch, uint64_t seed) {
  ClipTextOptions options;
  options.num_heads = arch.text.heads;
  return ClipTextModel::Create(RandomWeights(ClipTextWeightShapes(arch.text), seed, at::kFloat), options);
}

}  // namespace farm::sd
