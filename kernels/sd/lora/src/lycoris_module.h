// LyCORIS LoHa and LoKr modules, with the math of A1111's extensions-builtin/Lora
// (network_hada.py, network_lokr.py, lyco_helpers.py):
//   LoHa  (w1_a @ w1_b) * (w2_a @ w2_b)              elementwise (Hadamard) product
//         with Tucker cores: cp(t, wa, wb)[o,i,k,l] = sum_{r,s} t[r,s,k,l] wa[r,o] wb[s,i]
//   LoKr  kron(w1, w2), w1 = lokr_w1 or lokr_w1_a @ lokr_w1_b, w2 = lokr_w2, or
//         lokr_w2_a @ lokr_w2_b, or cp(lokr_t2, lokr_w2_a, lokr_w2_b); a 4-D w2 makes w1
//         [a, b, 1, 1] so the product is a conv weight
// scaled like LoRA by alpha / rank (LoraModule::rank says which dimension).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "farm/sd/lora_file.h"

namespace farm::sd {

// Checks the factors of a LoHa or LoKr module and fills `module`'s kind, factors (on the
// CPU, stored dtype) and rank. Empty when usable, else what is wrong, with the shapes.
std::string MakeLycorisModule(const std::map<std::string, at::Tensor>& factors, LoraModule& module);

// The shape of the product, before any reshape to the weight's shape: [out, in] or
// [out, in, kh, kw] ([out, in * kh * kw] for factors that flatten a conv).
std::vector<int64_t> LycorisProductShape(const LoraModule& module);

// The unscaled product in float32 on `device`, shaped by LycorisProductShape.
at::Tensor LycorisProduct(const LoraModule& module, const at::Device& device);

}  // namespace farm::sd
