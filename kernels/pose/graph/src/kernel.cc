#include "kernel.h"

namespace farm::pose::internal {

void Fail(const std::string& message) { throw KernelError(message); }

const KernelDef* FindKernel(const std::string& op) {
  static const KernelMap* map = [] {
    auto* m = new KernelMap;
    AddMathKernels(*m);
    AddArrayKernels(*m);
    AddNnKernels(*m);
    AddImageKernels(*m);
    AddListKernels(*m);
    return m;
  }();
  auto it = map->find(op);
  return it == map->end() ? nullptr : &it->second;
}

const at::Tensor& TensorArg(const Node& node, const std::vector<Value>& inputs, size_t i) {
  if (i >= inputs.size()) {
    Fail("expects at least " + std::to_string(i + 1) + " inputs, got " +
         std::to_string(inputs.size()));
  }
  if (inputs[i].is_list() || !inputs[i].tensor.defined())
    Fail("input " + std::to_string(i) + " must be a tensor");
  (void)node;
  return inputs[i].tensor;
}

std::vector<int64_t> IntValues(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kLong).contiguous().reshape({-1});
  const int64_t* p = flat.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + flat.numel());
}

int64_t ScalarInt(const at::Tensor& t) {
  if (t.numel() != 1) Fail("expected a scalar, got " + std::to_string(t.numel()) + " values");
  return t.to(at::kLong).item<int64_t>();
}

at::ScalarType ToScalarType(DataType type, const Node& node) {
  switch (type) {
    case DataType::kFloat:
    case DataType::kHalf:
      return at::kFloat;
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUint8:
      return at::kInt;  // tfjs keeps every integer type as int32
    case DataType::kBool:
      return at::kBool;
    default:
      break;
  }
  (void)node;
  Fail(std::string("unsupported data type ") + DataTypeName(type));
}

}  // namespace farm::pose::internal
