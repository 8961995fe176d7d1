// An op of the interpreter: how it runs on its input values, and optionally what it
// prepares once at load from constant inputs (conv filters in libtorch's layout).
// Kernels throw KernelError (or let libtorch throw); the executor turns that into a
// Status naming the node and its op.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

#include "graph_def.h"
#include "value.h"

namespace farm::pose::internal {

struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void Fail(const std::string& message);

// What a kernel prepares once at load: tensors (conv filters in libtorch's layout) and
// prepacked op contexts (XNNPACK convolutions, xnnpack_conv.h); either may be empty.
struct Prepared {
  std::vector<at::Tensor> tensors;
  std::vector<c10::IValue> packed;
};

// `constants[i]` is input i's value when that input is a Const node, else undefined.
using PrepareFn = Prepared (*)(const Node& node, const std::vector<at::Tensor>& constants);
using RunFn = std::vector<Value> (*)(const Node& node, const std::vector<Value>& inputs,
                                     const Prepared& prepared);

struct KernelDef {
  RunFn run = nullptr;
  PrepareFn prepare = nullptr;
};

using KernelMap = std::map<std::string, KernelDef>;

// nullptr for an op the interpreter does not implement. Control-flow ops, Const and
// Placeholder are the executor's own and are not in this map.
const KernelDef* FindKernel(const std::string& op);
bool IsExecutorOp(const std::string& op);

// Each ops_*.cc adds its group.
void AddMathKernels(KernelMap& map);
void AddArrayKernels(KernelMap& map);
void AddNnKernels(KernelMap& map);
void AddImageKernels(KernelMap& map);
void AddListKernels(KernelMap& map);

// Helpers shared by the kernels.
const at::Tensor& TensorArg(const Node& node, const std::vector<Value>& inputs, size_t i);
std::vector<int64_t> IntValues(const at::Tensor& t);  // an int tensor's values, flattened
int64_t ScalarInt(const at::Tensor& t);
inline std::vector<Value> One(at::Tensor t) { return {Value::Of(std::move(t))}; }
at::ScalarType ToScalarType(DataType type, const Node& node);

}  // namespace farm::pose::internal
