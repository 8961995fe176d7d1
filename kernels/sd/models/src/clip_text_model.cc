#include "farm/sd/clip_text_model.h"

#include <limits>
#include <optional>

#include "checkpoint.h"
#include "layers.h"
#include "module_names.h"
#include "weight_spec.h"

namespace farm::sd {
namespace {

constexpr const char* kComponent = "text encoder";
const std::string kPrefix = "text_model.";

std::string LayerPrefix(int64_t i) {
  return kPrefix + "encoder.layers." + std::to_string(i);
}

at::Tensor QuickGelu(const at::Tensor& x) { return x * at::sigmoid(x * 1.702); }

// CLIPEncoderLayer: pre-LayerNorm self-attention (with `mask`) and MLP, each residual.
at::Tensor EncoderLayer(const Weights& w, const std::string& p, at::Tensor x, const at::Tensor& mask,
                        int64_t heads, double eps) {
  at::Tensor h = LayerNorm(w, p + ".layer_norm1", x, eps);
  at::Tensor attn = MultiHeadAttention(Linear(w, p + ".self_attn.q_proj", h),
                                       Linear(w, p + ".self_attn.k_proj", h),
                                       Linear(w, p + ".self_attn.v_proj", h), heads, mask);
  x = x + Linear(w, p + ".self_attn.out_proj", attn);
  h = LayerNorm(w, p + ".layer_norm2", x, eps);
  return x + Linear(w, p + ".mlp.fc2", QuickGelu(Linear(w, p + ".mlp.fc1", h)));
}

}  // namespace

StatusOr<ClipTextModel> ClipTextModel::Create(TensorMap weights, ClipTextOptions options) {
  weights.erase(kPrefix + "embeddings.position_ids");  // a buffer, not a weight
  ClipTextModel model;
  FARM_ASSIGN_OR_RETURN(model.vocab_,
                        DimOf(weights, kComponent, kPrefix + "embeddings.token_embedding.weight", 0));
  FARM_ASSIGN_OR_RETURN(model.hidden_,
                        DimOf(weights, kComponent, kPrefix + "embeddings.token_embedding.weight", 1));
  FARM_ASSIGN_OR_RETURN(model.positions_,
                        DimOf(weights, kComponent, kPrefix + "embeddings.position_embedding.weight", 0));
  model.layers_ = CountChildren(weights, kPrefix + "encoder.layers.");
  if (model.layers_ == 0) {
    return InvalidArgument(std::string(kComponent) + " weights: no " + kPrefix + "encoder.layers.*");
  }
  FARM_ASSIGN_OR_RETURN(model.intermediate_,
                        DimOf(weights, kComponent, LayerPrefix(0) + ".mlp.fc1.weight", 0));
  model.eps_ = options.layer_norm_eps;

  const int64_t c = model.hidden_;
  WeightSpec spec;
  spec.Add(kPrefix + "embeddings.token_embedding.weight", {model.vocab_, c});
  spec.Add(kPrefix + "embeddings.position_embedding.weight", {model.positions_, c});
  for (int64_t i = 0; i < model.layers_; ++i) {
    const std::string p = LayerPrefix(i);
    spec.AddNorm(p + ".layer_norm1", c);
    for (const char* proj : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj",
                             ".self_attn.out_proj"}) {
      spec.AddLinear(p + proj, c, c);
    }
    spec.AddNorm(p + ".layer_norm2", c);
    spec.AddLinear(p + ".mlp.fc1", c, model.intermediate_);
    spec.AddLinear(p + ".mlp.fc2", model.intermediate_, c);
  }
  spec.AddNorm(kPrefix + "final_layer_norm", c);
  FARM_RETURN_IF_ERROR(spec.Check(weights, kComponent));
  model.heads_ = options.num_heads > 0 ? options.num_heads : model.hidden_ / 64;
  if (model.heads_ <= 0 || model.hidden_ % model.heads_ != 0) {
    return InvalidArgument(std::string(kComponent) + ": hidden size " + std::to_string(model.hidden_) +
                           " cannot be split into " + std::to_string(model.heads_) +
                           " heads (set ClipTextOptions::num_heads)");
  }
  model.weights_ = std::move(weights);
  return model;
}

Status ClipTextModel::CheckIds(const at::Tensor& ids) const {
  if (!ids.defined() || ids.dim() != 2) {
    return InvalidArgument("text encoder: input ids must be [batch, tokens]");
  }
  if (ids.scalar_type() != at::kLong && ids.scalar_type() != at::kInt) {
    return InvalidArgument("text encoder: input ids must be int64, found " +
                           std::string(c10::toString(ids.scalar_type())));
  }
  if (ids.size(1) > positions_ || ids.size(1) == 0) {
    return InvalidArgument("text encoder: " + std::to_string(ids.size(1)) +
                           " tokens, the model takes 1 to " + std::to_string(positions_));
  }
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= vocab_) {
      return InvalidArgument("text encoder: token id out of range [0, " + std::to_string(vocab_) +
                             "): found " + std::to_string(lo < 0 ? lo : hi));
    }
  }
  return Status::Ok();
}

at::Tensor ClipTextModel::Encode(const at::Tensor& ids_in, int64_t layer_count,
                                 std::vector<at::Tensor>* all) const {
  std::optional<at::NoGradGuard> no_grad;  // with adapters the caller's grad mode decides
  if (!adapters_) no_grad.emplace();
  const Weights w(weights_, adapters_.get(), gradient_checkpointing_);
  const at::Tensor& token_embedding = w(kPrefix + "embeddings.token_embedding.weight");
  const at::Tensor ids = ids_in.to(token_embedding.device(), at::kLong);
  return EncodeEmbedded(at::embedding(token_embedding, ids), layer_count, all);
}

at::Tensor ClipTextModel::EncodeEmbedded(const at::Tensor& token_embeddings, int64_t layer_count,
                                         std::vector<at::Tensor>* all) const {
  std::optional<at::NoGradGuard> no_grad;
  if (!adapters_) no_grad.emplace();
  const Weights w(weights_, adapters_.get(), gradient_checkpointing_);
  const int64_t tokens = token_embeddings.size(1);
  at::Tensor x = token_embeddings + w(kPrefix + "embeddings.position_embedding.weight").slice(0, 0, tokens);
  if (all) all->push_back(x);

  // Token i sees tokens j <= i only.
  at::Tensor mask = at::full({tokens, tokens}, -std::numeric_limits<float>::infinity(),
                             x.options().dtype(at::kFloat))
                        .triu_(1);
  for (int64_t i = 0; i < layer_count; ++i) {
    const std::string p = LayerPrefix(i);
    x = CheckpointedBlock(w, p, {x, mask},
                          [p, heads = heads_, eps = eps_](const Weights& lw, const std::vector<at::Tensor>& in) {
                            return EncoderLayer(lw, p, in[0], in[1], heads, eps);
                          });
    if (all) all->push_back(x);
  }
  return x;
}

StatusOr<at::Tensor> ClipTextModel::Forward(const at::Tensor& input_ids, int clip_skip) const {
  return CatchTorchErrors("text encoder forward", [&]() -> StatusOr<at::Tensor> {
    FARM_RETURN_IF_ERROR(CheckIds(input_ids));
    if (clip_skip < 1 || clip_skip > layers_) {
      return InvalidArgument("text encoder: clip skip " + std::to_string(clip_skip) +
                             " is outside 1.." + std::to_string(layers_));
    }
    std::optional<at::NoGradGuard> no_grad;
    if (!adapters_) no_grad.emplace();
    at::Tensor x = Encode(input_ids, layers_ - clip_skip + 1, nullptr);
    return LayerNorm(Weights(weights_), kPrefix + "final_layer_norm", x, eps_);
  });
}

StatusOr<at::Tensor> ClipTextModel::TokenEmbeddings(const at::Tensor& input_ids) const {
  return CatchTorchErrors("text encoder token embeddings", [&]() -> StatusOr<at::Tensor> {
    FARM_RETURN_IF_ERROR(CheckIds(input_ids));
    at::NoGradGuard no_grad;
    const at::Tensor& token_embedding = weights_.at(kPrefix + "embeddings.token_embedding.weight");
    return at::embedding(token_embedding, input_ids.to(token_embedding.device(), at::kLong));
  });
}

StatusOr<at::Tensor> ClipTextModel::ForwardEmbeddings(const at::Tensor& token_embeddings, int clip_skip) const {
  return CatchTorchErrors("text encoder forward", [&]() -> StatusOr<at::Tensor> {
    if (!token_embeddings.defined() || token_embeddings.dim() != 3 || token_embeddings.size(2) != hidden_) {
      return InvalidArgument("text encoder: token embeddings must be [batch, tokens, " + std::to_string(hidden_) + "]");
    }
    if (token_embeddings.size(1) > positions_ || token_embeddings.size(1) == 0) {
      return InvalidArgument("text encoder: " + std::to_string(token_embeddings.size(1)) +
                             " tokens, the model takes 1 to " + std::to_string(positions_));
    }
    if (clip_skip < 1 || clip_skip > layers_) {
      return InvalidArgument("text encoder: clip skip " + std::to_string(clip_skip) +
                             " is outside 1.." + std::to_string(layers_));
    }
    std::optional<at::NoGradGuard> no_grad;
    if (!adapters_) no_grad.emplace();
    const at::Tensor& table = weights_.at(kPrefix + "embeddings.token_embedding.weight");
    at::Tensor x = EncodeEmbedded(token_embeddings.to(table.device(), table.scalar_type()), layers_ - clip_skip + 1,
                                  nullptr);
    return LayerNorm(Weights(weights_), kPrefix + "final_layer_norm", x, eps_);
  });
}

StatusOr<std::vector<at::Tensor>> ClipTextModel::HiddenStates(const at::Tensor& input_ids) const {
  return CatchTorchErrors("text encoder forward", [&]() -> StatusOr<std::vector<at::Tensor>> {
    FARM_RETURN_IF_ERROR(CheckIds(input_ids));
    std::vector<at::Tensor> all;
    Encode(input_ids, layers_, &all);
    return all;
  });
}

void ClipTextModel::SetAdapters(std::shared_ptr<const LayerAdapters> adapters) {
  adapters_ = std::move(adapters);
}

std::vector<std::string> ClipTextModel::ModuleNames() const { return WeightModuleNames(weights_); }

}  // namespace farm::sd
