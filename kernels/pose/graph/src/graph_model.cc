#include "farm/pose/graph_model.h"

#include <c10/core/InferenceMode.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "graph_impl.h"
#include "weights.h"

namespace farm::pose {
namespace {

using internal::InputRef;
using internal::Value;

constexpr uintmax_t kMaxModelJsonBytes = 256u << 20;

StatusOr<std::string> ReadText(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return NotFound("model file " + path + " not found");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxModelJsonBytes)
    return InvalidArgument(path + ": cannot read the model file (size)");
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in) return DataLoss(path + ": short read");
  return text;
}

StatusOr<at::Tensor> ToTorch(const HostTensor& host, const std::string& name) {
  int64_t numel = 1;
  for (int64_t d : host.shape) {
    if (d < 0) return InvalidArgument("input \"" + name + "\": negative dimension");
    numel *= d;
  }
  const bool is_float = host.dtype == HostTensor::DType::kFloat32;
  const size_t have = is_float ? host.floats.size() : host.ints.size();
  if (static_cast<int64_t>(have) != numel) {
    return InvalidArgument("input \"" + name + "\": shape needs " + std::to_string(numel) +
                           " values, got " + std::to_string(have));
  }
  if (is_float)
    return at::from_blob(const_cast<float*>(host.floats.data()), host.shape, at::kFloat).clone();
  at::Tensor t =
      at::from_blob(const_cast<int32_t*>(host.ints.data()), host.shape, at::kInt).clone();
  return host.dtype == HostTensor::DType::kBool ? t.ne(0) : t;
}

StatusOr<HostTensor> FromTorch(const at::Tensor& t, const std::string& name) {
  HostTensor host;
  host.shape = t.sizes().vec();
  if (t.scalar_type() == at::kFloat) {
    const at::Tensor c = t.contiguous();
    host.floats.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  } else if (t.scalar_type() == at::kInt || t.scalar_type() == at::kBool ||
             t.scalar_type() == at::kLong) {
    host.dtype =
        t.scalar_type() == at::kBool ? HostTensor::DType::kBool : HostTensor::DType::kInt32;
    const at::Tensor c = t.to(at::kInt).contiguous();
    host.ints.assign(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
  } else {
    return InvalidArgument("output \"" + name + "\" has unsupported dtype " +
                           std::string(c10::toString(t.scalar_type())));
  }
  return host;
}

}  // namespace

int64_t HostTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}
HostTensor HostTensor::Float(std::vector<int64_t> shape, std::vector<float> values) {
  HostTensor t;
  t.shape = std::move(shape);
  t.floats = std::move(values);
  return t;
}
HostTensor HostTensor::Int(std::vector<int64_t> shape, std::vector<int32_t> values) {
  HostTensor t;
  t.dtype = DType::kInt32;
  t.shape = std::move(shape);
  t.ints = std::move(values);
  return t;
}

GraphModel::GraphModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GraphModel::~GraphModel() = default;

StatusOr<std::shared_ptr<const GraphModel>> GraphModel::Load(const std::string& model_json) {
  FARM_ASSIGN_OR_RETURN(std::string text, ReadText(model_json));
  auto impl = std::make_unique<Impl>();
  impl->origin = model_json;
  FARM_ASSIGN_OR_RETURN(impl->graph, internal::ParseGraph(text, model_json));
  const std::string folder = std::filesystem::path(model_json).parent_path().string();
  c10::InferenceMode guard;
  FARM_ASSIGN_OR_RETURN(auto weights,
                        internal::LoadWeights(impl->graph.weights_manifest,
                                              folder.empty() ? "." : folder, model_json));
  const size_t n = impl->graph.nodes.size();
  impl->constants.resize(n);
  impl->kernels.assign(n, nullptr);
  impl->prepared.resize(n);
  impl->consumers.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const internal::Node& node = impl->graph.nodes[i];
    if (node.op == "Const") {
      auto it = weights.find(node.name);
      if (it != weights.end()) {
        impl->constants[i] = it->second;
      } else {
        FARM_ASSIGN_OR_RETURN(impl->constants[i], internal::ConstFromAttr(node, model_json));
      }
    }
    for (const InputRef& in : node.inputs) {
      auto& list = impl->consumers[static_cast<size_t>(in.node)];
      if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const internal::Node& node = impl->graph.nodes[i];
    if (internal::IsExecutorOp(node.op)) continue;
    impl->kernels[i] = internal::FindKernel(node.op);
    if (!impl->kernels[i] || !impl->kernels[i]->prepare) continue;
    std::vector<at::Tensor> constants;
    for (const InputRef& in : node.inputs) {
      if (in.control) continue;
      constants.push_back(impl->graph.nodes[static_cast<size_t>(in.node)].op == "Const"
                              ? impl->constants[static_cast<size_t>(in.node)]
                              : at::Tensor());
    }
    try {
      impl->prepared[i] = impl->kernels[i]->prepare(node, constants);
    } catch (const std::exception& e) {
      return InvalidArgument(model_json + ": node \"" + node.name + "\" (" + node.op +
                             "): " + e.what());
    }
  }
  try {
    impl->fusions = internal::FindConvFusions(*impl);
  } catch (const std::exception& e) {
    return InvalidArgument(model_json + ": preparing fused convs: " + e.what());
  }
  return std::shared_ptr<const GraphModel>(new GraphModel(std::move(impl)));
}

std::vector<std::string> GraphModel::InputNames() const {
  std::vector<std::string> names;
  for (int p : impl_->graph.placeholders)
    names.push_back(impl_->graph.nodes[static_cast<size_t>(p)].name);
  return names;
}

std::vector<std::string> GraphModel::NodeNames() const {
  std::vector<std::string> names;
  for (const internal::Node& node : impl_->graph.nodes) names.push_back(node.name);
  return names;
}

StatusOr<std::vector<HostTensor>> GraphModel::Run(
    const std::vector<std::pair<std::string, HostTensor>>& inputs,
    const std::vector<std::string>& outputs, std::map<std::string, double>* ms_by_op) const {
  c10::InferenceMode guard;
  std::vector<std::pair<int, Value>> feeds;
  for (const auto& [name, host] : inputs) {
    auto it = impl_->graph.index.find(name);
    if (it == impl_->graph.index.end())
      return InvalidArgument(impl_->origin + ": no input node \"" + name + "\"");
    FARM_ASSIGN_OR_RETURN(at::Tensor t, ToTorch(host, name));
    feeds.emplace_back(it->second, Value::Of(std::move(t)));
  }
  std::vector<InputRef> refs;
  for (const std::string& out : outputs) {
    std::string name = out;
    int index = 0;
    const size_t colon = name.rfind(':');
    if (colon != std::string::npos && colon + 1 < name.size() &&
        name.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
      index = std::stoi(name.substr(colon + 1));
      name.resize(colon);
    }
    auto it = impl_->graph.index.find(name);
    if (it == impl_->graph.index.end())
      return InvalidArgument(impl_->origin + ": no output node \"" + out + "\"");
    refs.push_back({it->second, index, false});
  }
  FARM_ASSIGN_OR_RETURN(std::vector<Value> values,
                        internal::Execute(*impl_, feeds, refs, ms_by_op));
  std::vector<HostTensor> results;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_list())
      return InvalidArgument(impl_->origin + ": output \"" + outputs[i] + "\" is a TensorList");
    FARM_ASSIGN_OR_RETURN(HostTensor host, FromTorch(values[i].tensor, outputs[i]));
    results.push_back(std::move(host));
  }
  return results;
}

}  // namespace farm::pose
