#include "tfjs_manifest_fuzz.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <unordered_set>

#include "farm/faceid/weights.h"

namespace farm::fuzz {
namespace {

[[noreturn]] void Broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "tfjs manifest fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// What a successful parse promises: unique names, each tensor float32 with its
// manifest shape, retrievable by that shape and refused with another one.
void CheckInvariants(const faceid::TfjsWeights& weights) {
  std::unordered_set<std::string> seen;
  for (const std::string& name : weights.names()) {
    if (!seen.insert(name).second) Broken("duplicate name accepted", name);
    if (!weights.Has(name)) Broken("listed name missing", name);
    StatusOr<at::Tensor> tensor = weights.GetAnyShape(name);
    if (!tensor.ok()) Broken("listed tensor not retrievable", name);
    if (tensor->scalar_type() != at::kFloat) Broken("tensor not float32", name);
    const std::vector<int64_t> shape(tensor->sizes().begin(), tensor->sizes().end());
    if (!weights.Get(name, shape).ok()) Broken("own shape refused", name);
    std::vector<int64_t> other = shape;
    other.push_back(1);
    if (weights.Get(name, other).ok()) Broken("wrong shape accepted", name);
  }
}

}  // namespace

int FuzzTfjsManifest(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::size_t length = data[0] | (data[1] << 8) | (data[2] << 16) | (std::size_t{data[3]} << 24);
  const std::size_t rest = size - 4;
  if (length > rest) length = rest;
  const char* text = reinterpret_cast<const char*>(data + 4);
  const std::string_view manifest(text, length);
  const std::string_view shards(text + length, rest - length);

  StatusOr<faceid::TfjsWeights> weights = faceid::TfjsWeights::Parse(manifest, shards, "fuzz");
  if (!weights.ok()) {
    if (weights.status().message().empty()) Broken("error without a message", std::string(manifest));
    return 0;
  }
  CheckInvariants(weights.value());
  return 0;
}

}  // namespace farm::fuzz
