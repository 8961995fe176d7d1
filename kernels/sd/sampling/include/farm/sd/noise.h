// Where a run's randomness comes from. Every tensor is [N, ...] with one row per image of
// the latent batch.
//
// SeededNoise gives image i its own streams keyed by seed + i, drawn on the CPU and then
// moved to the requested device/dtype, so an image's result depends only on its seed:
// not on the batch size, the batch position or the device. Draw order per image: the
// initial latent noise first (Gaussian), then, in step order, the noise each step asks
// for (Euler a: one Gaussian per step; DPM++ SDE: Brownian increments, which come from a
// separate seeded BrownianTree and do not advance the Gaussian stream).
//
// RecordedNoise replays given tensors in order (Gaussian and Brownian requests alike),
// to rerun a recorded trajectory.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/brownian.h"

namespace farm::sd {

class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  // Standard normal noise of `shape` (shape[0] = images).
  virtual StatusOr<at::Tensor> Gaussian(at::IntArrayRef shape, const at::TensorOptions& options) = 0;
  // (W(sigma_to) - W(sigma_from)) / sqrt(|sigma_to - sigma_from|) of each image's Brownian
  // motion over [sigma_min, sigma_max] (the run's positive sigma range).
  virtual StatusOr<at::Tensor> BrownianIncrement(at::IntArrayRef shape,
                                                 const at::TensorOptions& options,
                                                 double sigma_from, double sigma_to,
                                                 double sigma_min, double sigma_max) = 0;
};

class SeededNoise : public NoiseSource {
 public:
  // Images seed, seed + 1, ..., seed + batch - 1.
  SeededNoise(uint64_t seed, int64_t batch);

  StatusOr<at::Tensor> Gaussian(at::IntArrayRef shape, const at::TensorOptions& options) override;
  StatusOr<at::Tensor> BrownianIncrement(at::IntArrayRef shape, const at::TensorOptions& options,
                                         double sigma_from, double sigma_to, double sigma_min,
                                         double sigma_max) override;

 private:
  Status CheckBatch(at::IntArrayRef shape) const;

  uint64_t seed_;
  int64_t batch_;
  std::vector<at::Generator> generators_;  // one CPU generator per image
  std::vector<BrownianTree> trees_;        // per image, rebuilt when the range or shape changes
};

class RecordedNoise : public NoiseSource {
 public:
  explicit RecordedNoise(std::vector<at::Tensor> tensors);

  StatusOr<at::Tensor> Gaussian(at::IntArrayRef shape, const at::TensorOptions& options) override;
  StatusOr<at::Tensor> BrownianIncrement(at::IntArrayRef shape, const at::TensorOptions& options,
                                         double sigma_from, double sigma_to, double sigma_min,
                                         double sigma_max) override;
  // How many tensors have been handed out.
  size_t used() const { return next_; }

 private:
  StatusOr<at::Tensor> Next(at::IntArrayRef shape, const at::TensorOptions& options);

  std::vector<at::Tensor> tensors_;
  size_t next_ = 0;
};

}  // namespace farm::sd
