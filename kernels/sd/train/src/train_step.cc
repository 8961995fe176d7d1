#include "farm/sd/train_step.h"

#include <cmath>

namespace farm::sd {

NoiseScheduleTensors MakeNoiseScheduleTensors(const TrainingSchedule& schedule) {
  const std::vector<float>& ac = schedule.alphas_cumprod();
  NoiseScheduleTensors out;
  out.alphas_cumprod = at::tensor(at::ArrayRef<float>(ac), at::kFloat);
  // kohya prepare_scheduler_for_custom_training, in float32.
  const at::Tensor alpha = at::sqrt(out.alphas_cumprod);
  const at::Tensor sigma = at::sqrt(1.0 - out.alphas_cumprod);
  out.all_snr = (alpha / sigma).pow(2);
  return out;
}

at::Tensor AddNoise(const NoiseScheduleTensors& schedule, const at::Tensor& latents,
                    const at::Tensor& noise, const at::Tensor& timesteps) {
  const at::Tensor ac = schedule.alphas_cumprod.to(latents.device(), latents.scalar_type());
  const at::Tensor t = timesteps.to(latents.device(), at::kLong);
  at::Tensor sqrt_alpha = ac.index_select(0, t).pow(0.5).flatten();
  at::Tensor sqrt_one_minus = (1 - ac.index_select(0, t)).pow(0.5).flatten();
  while (sqrt_alpha.dim() < latents.dim()) {
    sqrt_alpha = sqrt_alpha.unsqueeze(-1);
    sqrt_one_minus = sqrt_one_minus.unsqueeze(-1);
  }
  return sqrt_alpha * latents + sqrt_one_minus * noise;
}

StatusOr<LossResult> TrainingLoss(const UNet& unet, const ClipTextModel& text_encoder,
                                  const NoiseScheduleTensors& schedule, const TrainBatch& batch,
                                  const LossOptions& options) {
  FARM_ASSIGN_OR_RETURN(at::Tensor context, text_encoder.Forward(batch.input_ids, options.clip_skip));
  const at::Tensor noisy = AddNoise(schedule, batch.latents, batch.noise, batch.timesteps);
  FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet.Forward(noisy, batch.timesteps, context));
  LossResult result;
  at::Tensor per_sample = at::mse_loss(eps.to(at::kFloat), batch.noise.to(at::kFloat), at::Reduction::None)
                              .mean({1, 2, 3});
  result.per_sample = per_sample.detach();
  if (options.min_snr_gamma > 0) {
    const at::Tensor snr = schedule.all_snr.to(per_sample.device()).index_select(0, batch.timesteps.to(at::kLong));
    const at::Tensor weight = at::minimum(snr, at::full_like(snr, options.min_snr_gamma)) / snr;
    per_sample = per_sample * weight;
  }
  result.loss = per_sample.mean();
  result.encoder_hidden_states = context.detach();
  result.eps_pred = eps.detach();
  return result;
}

ClipResult ClipGradNorm(LoraNetwork& network, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  const std::vector<LoraParam>& params = network.params();
  const std::vector<uint8_t>& has = network.has_grad();
  for (size_t i = 0; i < params.size(); ++i) {
    if (has[i]) norms.push_back(at::norm(params[i].value.grad(), 2));
  }
  ClipResult result;
  if (norms.empty()) return result;
  const at::Tensor total = at::norm(at::stack(norms), 2);
  // Python's `max_norm / tensor` is reciprocal(tensor) * max_norm.
  const at::Tensor coef = at::clamp((total + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
  for (size_t i = 0; i < params.size(); ++i) {
    if (has[i]) params[i].value.mutable_grad().mul_(coef);
  }
  result.total_norm = total.item<double>();
  result.coef = coef.item<double>();
  return result;
}

AdamW::AdamW(const LoraNetwork& network, AdamWOptions options)
    : options_(options),
      exp_avg_(at::zeros_like(network.flat_params())),
      exp_avg_sq_(at::zeros_like(network.flat_params())),
      steps_(network.params().size(), 0) {}

void AdamW::Step(LoraNetwork& network, double text_encoder_lr, double unet_lr) {
  at::NoGradGuard no_grad;
  const std::vector<LoraParam>& params = network.params();
  const std::vector<uint8_t>& has = network.has_grad();
  const at::Tensor flat_p = network.flat_params(), flat_g = network.flat_grads();
  // Consecutive parameters with a gradient, the same group and the same step count are
  // updated as one slice: the operations are element-wise, so the numbers are the same as
  // PyTorch's tensor-by-tensor loop.
  size_t i = 0;
  while (i < params.size()) {
    if (!has[i]) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < params.size() && has[j] && params[j].group == params[i].group && steps_[j] == steps_[i]) ++j;
    const int64_t begin = params[i].offset, count = params[j - 1].offset + params[j - 1].numel - begin;
    for (size_t k = i; k < j; ++k) ++steps_[k];
    const double step = static_cast<double>(steps_[i]);
    const double lr = params[i].group == LoraGroup::kTextEncoder ? text_encoder_lr : unet_lr;
    at::Tensor p = flat_p.narrow(0, begin, count), g = flat_g.narrow(0, begin, count);
    at::Tensor m = exp_avg_.narrow(0, begin, count), v = exp_avg_sq_.narrow(0, begin, count);
    p.mul_(1 - lr * options_.weight_decay);
    m.mul_(options_.beta1).add_(g, 1 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1 - options_.beta2);
    const double bias_correction1 = 1 - std::pow(options_.beta1, step);
    const double bias_correction2 = 1 - std::pow(options_.beta2, step);
    const double step_size = lr / bias_correction1;
    const at::Tensor denom = (v.sqrt() / std::sqrt(bias_correction2)).add_(options_.eps);
    p.addcdiv_(m, denom, -step_size);
    i = j;
  }
}

Status AdamW::Restore(const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq, std::vector<int64_t> steps) {
  if (!exp_avg.defined() || !exp_avg_sq.defined() || exp_avg.sizes() != exp_avg_.sizes() ||
      exp_avg_sq.sizes() != exp_avg_sq_.sizes() || steps.size() != steps_.size()) {
    return InvalidArgument("optimizer state does not fit this network (" +
                           std::to_string(exp_avg_.numel()) + " elements, " +
                           std::to_string(steps_.size()) + " tensors)");
  }
  exp_avg_.copy_(exp_avg);
  exp_avg_sq_.copy_(exp_avg_sq);
  steps_ = std::move(steps);
  return Status::Ok();
}

}  // namespace farm::sd
