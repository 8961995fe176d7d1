#include "farm/sd/lora_network.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>

namespace farm::sd {
namespace {

std::vector<int64_t> DownShape(const LoraTargetModule& m, int64_t rank) {
  if (m.conv1x1) return {rank, m.in, 1, 1};
  return {rank, m.in};
}

std::vector<int64_t> UpShape(const LoraTargetModule& m, int64_t rank) {
  if (m.conv1x1) return {m.out, rank, 1, 1};
  return {m.out, rank};
}

std::string ShapeText(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

StatusOr<std::unique_ptr<LoraNetwork>> LoraNetwork::Create(const UNet& unet,
                                                           const ClipTextModel& text_encoder,
                                                           LoraNetworkOptions options) {
  if (options.rank < 1) return InvalidArgument("LoRA rank must be at least 1, got " + std::to_string(options.rank));
  if (!(options.alpha > 0) || !std::isfinite(options.alpha)) {
    return InvalidArgument("LoRA alpha must be a positive number");
  }
  if (!options.train_unet && !options.train_text_encoder) {
    return InvalidArgument("LoRA trains neither the UNet nor the text encoder");
  }
  std::unique_ptr<LoraNetwork> net(new LoraNetwork());
  net->options_ = options;
  net->modules_ = KohyaLoraTargets(unet, text_encoder, options);
  if (net->modules_.empty()) return InvalidArgument("the models have no layer a LoRA can target");

  int64_t total = 0;
  for (const LoraTargetModule& m : net->modules_) {
    for (const auto& [suffix, shape] : {std::pair{".lora_down.weight", DownShape(m, options.rank)},
                                        std::pair{".lora_up.weight", UpShape(m, options.rank)}}) {
      LoraParam p;
      p.name = m.kohya_name + suffix;
      p.group = m.group;
      p.offset = total;
      p.numel = 1;
      for (int64_t d : shape) p.numel *= d;
      total += p.numel;
      net->params_.push_back(std::move(p));
    }
  }
  // On the models' device (a GPU when they are), always float32.
  const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat).device(unet.weights().begin()->second.device());
  net->flat_params_ = at::zeros({total}, f32);
  net->flat_grads_ = at::zeros({total}, f32);
  net->has_grad_ = std::make_shared<std::vector<uint8_t>>(net->params_.size(), 0);
  for (size_t i = 0; i < net->params_.size(); ++i) {
    LoraParam& p = net->params_[i];
    const LoraTargetModule& m = net->modules_[i / 2];
    const std::vector<int64_t> shape = i % 2 == 0 ? DownShape(m, options.rank) : UpShape(m, options.rank);
    // A leaf that shares the flat storage; its gradient is a view of the flat gradients,
    // into which autograd accumulates in place.
    p.value = net->flat_params_.narrow(0, p.offset, p.numel).view(shape).detach().requires_grad_(true);
    p.value.mutable_grad() = net->flat_grads_.narrow(0, p.offset, p.numel).view(shape);
    std::shared_ptr<std::vector<uint8_t>> flags = net->has_grad_;
    p.value.register_hook([flags, i](const at::Tensor&) { (*flags)[i] = 1; });
  }
  return net;
}

void LoraNetwork::InitKohya(uint64_t seed) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (size_t i = 0; i < params_.size(); i += 2) {
    const at::Tensor& down = params_[i].value;
    const double fan_in = static_cast<double>(down.numel() / down.size(0));
    const double bound = 1.0 / std::sqrt(fan_in);  // kaiming_uniform_(a = sqrt(5))
    down.uniform_(-bound, bound, gen);
    params_[i + 1].value.zero_();
  }
}

Status LoraNetwork::Load(const TensorMap& tensors, const std::string& source) {
  at::NoGradGuard no_grad;
  std::set<std::string> expected;
  for (const LoraParam& p : params_) {
    expected.insert(p.name);
    auto it = tensors.find(p.name);
    if (it == tensors.end()) return InvalidArgument(source + ": no tensor " + p.name);
    if (it->second.sizes() != p.value.sizes()) {
      return InvalidArgument(source + ": " + p.name + " has shape " + ShapeText(it->second.sizes()) +
                             ", the network's is " + ShapeText(p.value.sizes()));
    }
    p.value.copy_(it->second.to(at::kFloat).to(p.value.device()));
  }
  for (const LoraTargetModule& m : modules_) {
    const std::string name = m.kohya_name + ".alpha";
    expected.insert(name);
    auto it = tensors.find(name);
    if (it == tensors.end()) continue;
    const double alpha = it->second.to(at::kDouble).item<double>();
    if (std::abs(alpha - options_.alpha) > 1e-6 * std::max(1.0, std::abs(alpha))) {
      return InvalidArgument(source + ": " + name + " is " + std::to_string(alpha) +
                             ", the network was created with alpha " + std::to_string(options_.alpha));
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!expected.count(name)) {
      return InvalidArgument(source + ": tensor " + name + " is not part of this network (" +
                             std::to_string(modules_.size()) + " modules of rank " +
                             std::to_string(options_.rank) + ")");
    }
  }
  return Status::Ok();
}

TensorMap LoraNetwork::ToKohyaTensors() const {
  TensorMap out;
  for (const LoraParam& p : params_) out[p.name] = p.value.detach().to(at::kCPU).clone();
  for (const LoraTargetModule& m : modules_) {
    out[m.kohya_name + ".alpha"] = at::scalar_tensor(options_.alpha, at::kFloat);
  }
  return out;
}

void LoraNetwork::Attach(UNet* unet, ClipTextModel* text_encoder) const {
  auto unet_adapters = std::make_shared<LayerAdapters>();
  auto text_adapters = std::make_shared<LayerAdapters>();
  for (size_t i = 0; i < modules_.size(); ++i) {
    const LoraTargetModule& m = modules_[i];
    LayerAdapter adapter{params_[2 * i].value, params_[2 * i + 1].value, scale()};
    (m.group == LoraGroup::kUnet ? *unet_adapters : *text_adapters)[m.module] = adapter;
  }
  if (unet) unet->SetAdapters(unet_adapters->empty() ? nullptr : unet_adapters);
  if (text_encoder) text_encoder->SetAdapters(text_adapters->empty() ? nullptr : text_adapters);
}

void LoraNetwork::ZeroGrad() {
  flat_grads_.zero_();
  std::fill(has_grad_->begin(), has_grad_->end(), 0);
}

int64_t LoraNetwork::group_numel(LoraGroup group) const {
  int64_t n = 0;
  for (const LoraParam& p : params_) n += p.group == group ? p.numel : 0;
  return n;
}

}  // namespace farm::sd
