#include "lycoris_module.h"

#include "lora_text.h"

#include <optional>
#include <utility>

namespace farm::sd {
namespace {

using Shape = std::vector<int64_t>;

// A shape, or what is wrong.
struct ShapeOr {
  Shape shape;
  std::string problem;
};

int64_t Numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Describe(const std::map<std::string, at::Tensor>& factors) {
  std::string text;
  for (const auto& [name, tensor] : factors) {
    text += (text.empty() ? "" : ", ") + name + " " + ShapeText(tensor.sizes());
  }
  return text;
}

// up.reshape(up.size(0), -1) @ down.reshape(down.size(0), -1): [up0, down numel / down0].
ShapeOr Conventional(const at::Tensor& up, const at::Tensor& down) {
  if (up.dim() < 2 || down.dim() < 2) return {{}, "factors must be at least 2-D"};
  const int64_t inner = up.numel() / up.size(0);
  if (inner != down.size(0)) return {{}, "the inner dimensions do not match"};
  return {{up.size(0), down.numel() / down.size(0)}, {}};
}

// cp(t, wa, wb): t [r, s, k, l], wa [r, out], wb [s, in] -> [out, in, k, l].
ShapeOr Tucker(const at::Tensor& t, const at::Tensor& wa, const at::Tensor& wb) {
  if (t.dim() != 4 || wa.dim() != 2 || wb.dim() != 2) {
    return {{}, "a Tucker core must be 4-D and its factors 2-D"};
  }
  if (t.size(0) != wa.size(0) || t.size(1) != wb.size(0)) {
    return {{}, "the Tucker core does not match its factors"};
  }
  return {{wa.size(1), wb.size(1), t.size(2), t.size(3)}, {}};
}

at::Tensor TuckerProduct(const at::Tensor& t, const at::Tensor& wa, const at::Tensor& wb) {
  return at::einsum("ijkl,ir->rjkl", {at::einsum("ijkl,jr->irkl", {t, wb}), wa});
}

const at::Tensor* Get(const std::map<std::string, at::Tensor>& factors, const std::string& name) {
  auto it = factors.find(name);
  return it == factors.end() ? nullptr : &it->second;
}

ShapeOr LohaShape(const std::map<std::string, at::Tensor>& f) {
  for (const char* name : {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"}) {
    if (!Get(f, name)) return {{}, std::string("LoHa module without ") + name};
  }
  const at::Tensor &w1a = f.at("hada_w1_a"), &w1b = f.at("hada_w1_b");
  const at::Tensor &w2a = f.at("hada_w2_a"), &w2b = f.at("hada_w2_b");
  ShapeOr first;
  if (const at::Tensor* t1 = Get(f, "hada_t1")) {
    first = Tucker(*t1, w1a, w1b);
  } else {
    first = Conventional(w1a, w1b);
    if (first.problem.empty()) {
      first.shape = {w1a.size(0), w1b.size(1)};
      if (w1b.dim() == 4) first.shape.insert(first.shape.end(), {w1b.size(2), w1b.size(3)});
    }
  }
  if (!first.problem.empty()) return first;
  ShapeOr second;
  if (const at::Tensor* t2 = Get(f, "hada_t2")) {
    second = Tucker(*t2, w2a, w2b);
  } else {
    second = Conventional(w2a, w2b);
  }
  if (!second.problem.empty()) return second;
  // The second product is reshaped to the first's shape (A1111's rebuild_conventional).
  const bool fits = f.count("hada_t2") ? second.shape == first.shape
                                       : second.shape[0] == first.shape[0] &&
                                             Numel(second.shape) == Numel(first.shape);
  if (!fits) return {{}, "hada_w1 and hada_w2 products differ in shape"};
  return first;
}

ShapeOr LokrShape(const std::map<std::string, at::Tensor>& f) {
  Shape w1;
  if (const at::Tensor* full = Get(f, "lokr_w1")) {
    if (full->dim() != 2) return {{}, "lokr_w1 must be 2-D"};
    w1 = full->sizes().vec();
  } else if (Get(f, "lokr_w1_a") && Get(f, "lokr_w1_b")) {
    const at::Tensor &a = f.at("lokr_w1_a"), &b = f.at("lokr_w1_b");
    if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0)) {
      return {{}, "lokr_w1_a @ lokr_w1_b must be [a, r] @ [r, b]"};
    }
    w1 = {a.size(0), b.size(1)};
  } else {
    return {{}, "LoKr module without lokr_w1 (or lokr_w1_a and lokr_w1_b)"};
  }
  Shape w2;
  if (const at::Tensor* full = Get(f, "lokr_w2")) {
    if (full->dim() != 2 && full->dim() != 4) return {{}, "lokr_w2 must be 2-D or 4-D"};
    w2 = full->sizes().vec();
  } else if (Get(f, "lokr_w2_a") && Get(f, "lokr_w2_b")) {
    const at::Tensor &a = f.at("lokr_w2_a"), &b = f.at("lokr_w2_b");
    if (const at::Tensor* t2 = Get(f, "lokr_t2")) {
      ShapeOr tucker = Tucker(*t2, a, b);
      if (!tucker.problem.empty()) return tucker;
      w2 = tucker.shape;
    } else {
      if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0)) {
        return {{}, "lokr_w2_a @ lokr_w2_b must be [c, r] @ [r, d]"};
      }
      w2 = {a.size(0), b.size(1)};
    }
  } else {
    return {{}, "LoKr module without lokr_w2 (or lokr_w2_a and lokr_w2_b)"};
  }
  Shape shape = {w1[0] * w2[0], w1[1] * w2[1]};
  if (w2.size() == 4) shape.insert(shape.end(), {w2[2], w2[3]});
  return {shape, {}};
}

bool IsLoha(const std::map<std::string, at::Tensor>& factors) {
  return factors.begin()->first.rfind("hada_", 0) == 0;
}

}  // namespace

std::string MakeLycorisModule(const std::map<std::string, at::Tensor>& factors, LoraModule& module) {
  if (factors.empty()) return "no LoHa or LoKr factors";
  const bool loha = IsLoha(factors);
  for (const auto& [name, tensor] : factors) {
    if ((name.rfind("hada_", 0) == 0) != loha) return "mixes LoHa and LoKr factors: " + Describe(factors);
    if (!IsLoraFloatType(tensor.scalar_type())) {
      return name + " must be f16, bf16, f32 or f64, found " + c10::toString(tensor.scalar_type());
    }
    if (tensor.numel() == 0) return "empty tensor: " + Describe(factors);
    if (!at::isfinite(tensor).all().item<bool>()) return name + " contains NaN or infinity";
  }
  ShapeOr shape = loha ? LohaShape(factors) : LokrShape(factors);
  if (!shape.problem.empty()) return shape.problem + ": " + Describe(factors);
  module.kind = loha ? LoraModuleKind::kLoha : LoraModuleKind::kLokr;
  module.factors.clear();
  for (const auto& [name, tensor] : factors) module.factors.emplace(name, tensor.cpu());
  // A1111: LoHa divides alpha by hada_w1_b's rows; LoKr by lokr_w2_b's, else lokr_w1_b's.
  module.rank = 0;
  if (loha) {
    module.rank = factors.at("hada_w1_b").size(0);
  } else if (const at::Tensor* w2b = Get(factors, "lokr_w2_b")) {
    module.rank = w2b->size(0);
  } else if (const at::Tensor* w1b = Get(factors, "lokr_w1_b")) {
    module.rank = w1b->size(0);
  }
  return {};
}

std::vector<int64_t> LycorisProductShape(const LoraModule& module) {
  return (module.kind == LoraModuleKind::kLoha ? LohaShape(module.factors) : LokrShape(module.factors)).shape;
}

at::Tensor LycorisProduct(const LoraModule& module, const at::Device& device) {
  auto f = [&](const std::string& name) { return module.factors.at(name).to(device, at::kFloat); };
  auto has = [&](const std::string& name) { return module.factors.count(name) > 0; };
  const Shape shape = LycorisProductShape(module);
  if (module.kind == LoraModuleKind::kLoha) {
    at::Tensor first = has("hada_t1") ? TuckerProduct(f("hada_t1"), f("hada_w1_a"), f("hada_w1_b"))
                                      : at::matmul(f("hada_w1_a").flatten(1), f("hada_w1_b").flatten(1));
    at::Tensor second = has("hada_t2") ? TuckerProduct(f("hada_t2"), f("hada_w2_a"), f("hada_w2_b"))
                                       : at::matmul(f("hada_w2_a").flatten(1), f("hada_w2_b").flatten(1));
    return first.reshape(shape) * second.reshape(shape);
  }
  at::Tensor w1 = has("lokr_w1") ? f("lokr_w1") : at::matmul(f("lokr_w1_a"), f("lokr_w1_b"));
  at::Tensor w2 = has("lokr_w2")   ? f("lokr_w2")
                  : has("lokr_t2") ? TuckerProduct(f("lokr_t2"), f("lokr_w2_a"), f("lokr_w2_b"))
                                   : at::matmul(f("lokr_w2_a"), f("lokr_w2_b"));
  if (w2.dim() == 4) w1 = w1.unsqueeze(2).unsqueeze(2);
  return at::kron(w1, w2.contiguous()).reshape(shape);
}

}  // namespace farm::sd
