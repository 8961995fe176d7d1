#include "farm/sd/lora_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

namespace farm::sd {
namespace {

constexpr double kPi = 3.14159265358979323846;

// splitmix64: a well-mixed 64-bit value from several counters.
uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// Domain tags keep the generators of different purposes apart.
constexpr uint64_t kSampleStream = 0x53414d50;   // "SAMP"
constexpr uint64_t kEpochStream = 0x45504f43;    // "EPOC"

at::Generator SampleGenerator(uint64_t seed, int64_t step, int64_t micro, int64_t slot) {
  uint64_t h = Mix(Mix(Mix(Mix(seed, kSampleStream), step), micro), slot);
  return at::make_generator<at::CPUGeneratorImpl>(h);
}

bool Finite(double v) { return std::isfinite(v); }

bool KnownScheduler(const std::string& name) {
  return name == "constant" || name == "constant_with_warmup" || name == "linear" || name == "cosine";
}

}  // namespace

double ScheduledLearningRate(const TrainerOptions& o, double base_lr, int64_t step) {
  const std::string& s = o.lr_scheduler;
  const int64_t warmup = std::max<int64_t>(0, o.warmup_steps);
  if (s == "constant") return base_lr;
  if (step < warmup) return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (s == "constant_with_warmup") return base_lr;
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<int64_t>(1, o.max_steps - warmup));
  if (s == "linear") return base_lr * std::max(0.0, 1.0 - progress);
  if (s == "cosine") return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(kPi * progress)));
  return base_lr;
}

bool ScheduleDependsOnTotalSteps(const std::string& lr_scheduler) {
  return lr_scheduler == "linear" || lr_scheduler == "cosine";
}

int64_t ExampleForSequence(uint64_t seed, int64_t sequence, int64_t dataset_size) {
  const int64_t epoch = sequence / dataset_size, position = sequence % dataset_size;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(Mix(Mix(seed, kEpochStream), epoch));
  const at::Tensor order = at::randperm(dataset_size, gen, at::kLong);
  return order[position].item<int64_t>();
}

StatusOr<std::unique_ptr<LoraTrainer>> LoraTrainer::Create(const UNet* unet, const ClipTextModel* text_encoder,
                                                           LoraNetwork* network, TrainerOptions options,
                                                           std::vector<TrainExample> examples, int rank,
                                                           int world_size) {
  if (examples.empty()) return InvalidArgument("training needs at least one example");
  if (options.max_steps < 1) return InvalidArgument("max_steps must be at least 1");
  if (options.batch_per_rank < 1 || options.gradient_accumulation < 1) {
    return InvalidArgument("batch size and gradient accumulation must be at least 1");
  }
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return InvalidArgument("rank " + std::to_string(rank) + " outside a world of " + std::to_string(world_size));
  }
  if (!KnownScheduler(options.lr_scheduler)) {
    return InvalidArgument("unknown lr_scheduler '" + options.lr_scheduler +
                           "' (constant, constant_with_warmup, linear, cosine)");
  }
  for (size_t i = 0; i < examples.size(); ++i) {
    const TrainExample& e = examples[i];
    if (!e.latent.defined() || e.latent.dim() != 3 || e.latent.sizes() != examples[0].latent.sizes()) {
      return InvalidArgument("example " + std::to_string(i) + ": latent must be [C, h, w] like the first");
    }
    if (options.flip && (!e.latent_flip.defined() || e.latent_flip.sizes() != e.latent.sizes())) {
      return InvalidArgument("example " + std::to_string(i) + ": flips are on but it has no flipped latent");
    }
    if (!e.input_ids.defined() || e.input_ids.dim() != 1) {
      return InvalidArgument("example " + std::to_string(i) + ": input ids must be one row of token ids");
    }
  }
  std::unique_ptr<LoraTrainer> t(new LoraTrainer());
  t->unet_ = unet;
  t->text_ = text_encoder;
  t->network_ = network;
  t->options_ = std::move(options);
  t->examples_ = std::move(examples);
  t->rank_ = rank;
  t->world_size_ = world_size;
  FARM_ASSIGN_OR_RETURN(TrainingSchedule schedule,
                        TrainingSchedule::ScaledLinear(0.00085, 0.012, t->options_.num_train_timesteps));
  t->schedule_ = MakeNoiseScheduleTensors(schedule);
  t->optimizer_ = std::make_unique<AdamW>(*network, t->options_.adamw);
  return t;
}

TrainBatch LoraTrainer::DrawBatch(int64_t step, int64_t micro) const {
  const int64_t b = options_.batch_per_rank;
  const int64_t global_batch = b * world_size_;
  const int64_t n = static_cast<int64_t>(examples_.size());
  std::vector<at::Tensor> latents, ids, noises, timesteps;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t slot = rank_ * b + i;
    const int64_t sequence = (step * options_.gradient_accumulation + micro) * global_batch + slot;
    const TrainExample& e = examples_[ExampleForSequence(options_.seed, sequence, n)];
    at::Generator gen = SampleGenerator(options_.seed, step, micro, slot);
    const bool flip = options_.flip && at::rand({1}, gen).item<double>() < 0.5;
    const at::Tensor& latent = flip ? e.latent_flip : e.latent;
    at::Tensor t = at::randint(0, options_.num_train_timesteps, {1}, gen, at::kLong);
    at::Tensor noise = at::randn(latent.sizes(), gen, at::kFloat);
    if (options_.noise_offset != 0) {
      // kohya apply_noise_offset: noise + offset * randn(C, 1, 1).
      noise = noise + options_.noise_offset * at::randn({latent.size(0), 1, 1}, gen, at::kFloat);
    }
    latents.push_back(latent.to(at::kFloat));
    ids.push_back(e.input_ids);
    noises.push_back(noise);
    timesteps.push_back(t);
  }
  return {at::stack(latents), at::stack(ids), at::stack(noises), at::cat(timesteps)};
}

StatusOr<StepStats> LoraTrainer::Step(const GradientReducer& reduce) {
  network_->ZeroGrad();
  StepStats stats;
  double loss_sum = 0;
  const double accumulation = static_cast<double>(options_.gradient_accumulation);
  for (int64_t micro = 0; micro < options_.gradient_accumulation; ++micro) {
    TrainBatch batch = DrawBatch(step_, micro);  // drawn on the CPU: the same on any device
    const at::Device device = network_->flat_params().device();
    if (device != batch.latents.device()) {
      batch = {batch.latents.to(device), batch.input_ids.to(device), batch.noise.to(device),
               batch.timesteps.to(device)};
    }
    FARM_ASSIGN_OR_RETURN(LossResult loss, TrainingLoss(*unet_, *text_, schedule_, batch,
                                                        {options_.clip_skip, options_.min_snr_gamma}));
    const double value = loss.loss.item<double>();
    if (!Finite(value)) {
      return FailedPrecondition("loss is " + std::to_string(value) + " at step " + std::to_string(step_ + 1) +
                                " (micro-step " + std::to_string(micro) + "); the weights of step " +
                                std::to_string(step_) + " are kept");
    }
    loss_sum += value;
    // As accelerate does: the loss of each micro-step divided by the accumulation count.
    (accumulation > 1 ? loss.loss / accumulation : loss.loss).backward();
  }
  if (reduce) FARM_RETURN_IF_ERROR(reduce(network_->flat_grads()));
  // max_grad_norm 0 turns clipping off; the norm is still measured (reported, checked).
  const double max_norm = options_.max_grad_norm > 0 ? options_.max_grad_norm : std::numeric_limits<double>::infinity();
  const ClipResult clip = ClipGradNorm(*network_, max_norm);
  if (!Finite(clip.total_norm)) {
    // Checked before the optimizer touches the weights, so they are still those of the
    // previous step.
    return FailedPrecondition("gradient norm is " + std::to_string(clip.total_norm) + " at step " +
                              std::to_string(step_ + 1) + "; the weights of step " + std::to_string(step_) +
                              " are kept");
  }
  stats.lr_unet = ScheduledLearningRate(options_, options_.unet_lr, step_);
  stats.lr_text_encoder = ScheduledLearningRate(options_, options_.text_encoder_lr, step_);
  optimizer_->Step(*network_, stats.lr_text_encoder, stats.lr_unet);
  ++step_;
  stats.step = step_;
  stats.loss = loss_sum / accumulation;
  stats.grad_norm = clip.total_norm;
  stats.clip_coef = clip.coef;
  return stats;
}

TensorMap LoraTrainer::SaveState() const {
  TensorMap state;
  state["state/params"] = network_->flat_params().to(at::kCPU).clone();
  state["state/exp_avg"] = optimizer_->exp_avg().to(at::kCPU).clone();
  state["state/exp_avg_sq"] = optimizer_->exp_avg_sq().to(at::kCPU).clone();
  const std::vector<int64_t>& steps = optimizer_->steps();
  state["state/param_steps"] = at::tensor(at::ArrayRef<int64_t>(steps), at::kLong);
  state["state/step"] = at::tensor({step_}, at::kLong);
  return state;
}

Status LoraTrainer::RestoreState(const TensorMap& state) {
  for (const char* key : {"state/params", "state/exp_avg", "state/exp_avg_sq", "state/param_steps", "state/step"}) {
    if (!state.count(key)) return InvalidArgument(std::string("training state has no ") + key);
  }
  const at::Tensor& params = state.at("state/params");
  if (params.sizes() != network_->flat_params().sizes() || params.scalar_type() != at::kFloat) {
    return InvalidArgument("training state holds " + std::to_string(params.numel()) +
                           " LoRA elements, this network has " + std::to_string(network_->flat_params().numel()));
  }
  const at::Tensor steps_tensor = state.at("state/param_steps").to(at::kLong).contiguous();
  std::vector<int64_t> steps(steps_tensor.data_ptr<int64_t>(), steps_tensor.data_ptr<int64_t>() + steps_tensor.numel());
  FARM_RETURN_IF_ERROR(optimizer_->Restore(state.at("state/exp_avg"), state.at("state/exp_avg_sq"), std::move(steps)));
  at::NoGradGuard no_grad;
  network_->flat_params().copy_(params);
  step_ = state.at("state/step").to(at::kLong).item<int64_t>();
  return Status::Ok();
}

}  // namespace farm::sd
