#include "farm/sd/noise.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <string>
#include <utility>

namespace farm::sd {
namespace {

std::string ShapeText(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

at::TensorOptions FloatByDefault(const at::TensorOptions& options) {
  return options.has_dtype() ? options : options.dtype(at::kFloat);
}

}  // namespace

SeededNoise::SeededNoise(uint64_t seed, int64_t batch) : seed_(seed), batch_(batch) {
  for (int64_t i = 0; i < batch; ++i) {
    generators_.push_back(at::detail::createCPUGenerator(seed + static_cast<uint64_t>(i)));
  }
}

Status SeededNoise::CheckBatch(at::IntArrayRef shape) const {
  if (shape.empty() || shape[0] != batch_) {
    return InvalidArgument("noise of shape " + ShapeText(shape) + " asked from a source for " +
                           std::to_string(batch_) + " images (seeds " + std::to_string(seed_) +
                           ".." + std::to_string(seed_ + static_cast<uint64_t>(batch_) - 1) + ")");
  }
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument("noise shape " + ShapeText(shape) + " has an empty dimension");
  }
  return Status::Ok();
}

StatusOr<at::Tensor> SeededNoise::Gaussian(at::IntArrayRef shape, const at::TensorOptions& options) {
  FARM_RETURN_IF_ERROR(CheckBatch(shape));
  try {
    std::vector<at::Tensor> rows;
    for (at::Generator& generator : generators_) {
      rows.push_back(at::randn(shape.slice(1), generator, at::TensorOptions().dtype(at::kFloat)));
    }
    return at::stack(rows, 0).to(FloatByDefault(options));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("drawing seeded noise: ") + e.what());
  }
}

StatusOr<at::Tensor> SeededNoise::BrownianIncrement(at::IntArrayRef shape,
                                                    const at::TensorOptions& options,
                                                    double sigma_from, double sigma_to,
                                                    double sigma_min, double sigma_max) {
  FARM_RETURN_IF_ERROR(CheckBatch(shape));
  const std::vector<int64_t> row_shape(shape.begin() + 1, shape.end());
  const bool reuse = trees_.size() == static_cast<size_t>(batch_) &&
                     trees_[0].t0() == sigma_min && trees_[0].t1() == sigma_max &&
                     trees_[0].shape() == row_shape;
  if (!reuse) {
    trees_.clear();
    for (int64_t i = 0; i < batch_; ++i) {
      FARM_ASSIGN_OR_RETURN(BrownianTree tree,
                            BrownianTree::Create(seed_ + static_cast<uint64_t>(i), sigma_min,
                                                 sigma_max, row_shape));
      trees_.push_back(std::move(tree));
    }
  }
  try {
    std::vector<at::Tensor> rows;
    for (const BrownianTree& tree : trees_) rows.push_back(tree.NormalizedIncrement(sigma_from, sigma_to));
    return at::stack(rows, 0).to(FloatByDefault(options));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("drawing Brownian noise: ") + e.what());
  }
}

RecordedNoise::RecordedNoise(std::vector<at::Tensor> tensors) : tensors_(std::move(tensors)) {}

StatusOr<at::Tensor> RecordedNoise::Next(at::IntArrayRef shape, const at::TensorOptions& options) {
  if (next_ >= tensors_.size()) {
    return FailedPrecondition("recorded noise exhausted: all " + std::to_string(tensors_.size()) +
                              " tensors were used, one more of shape " + ShapeText(shape) +
                              " was asked for");
  }
  const at::Tensor& t = tensors_[next_];
  if (!t.defined() || t.sizes() != shape) {
    return InvalidArgument("recorded noise tensor " + std::to_string(next_) + " has shape " +
                           (t.defined() ? ShapeText(t.sizes()) : std::string("(none)")) +
                           ", the sampler asked for " + ShapeText(shape));
  }
  ++next_;
  try {
    return t.to(FloatByDefault(options));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("recorded noise: ") + e.what());
  }
}

StatusOr<at::Tensor> RecordedNoise::Gaussian(at::IntArrayRef shape, const at::TensorOptions& options) {
  return Next(shape, options);
}

StatusOr<at::Tensor> RecordedNoise::BrownianIncrement(at::IntArrayRef shape,
                                                      const at::TensorOptions& options, double,
                                                      double, double, double) {
  return Next(shape, options);
}

}  // namespace farm::sd
