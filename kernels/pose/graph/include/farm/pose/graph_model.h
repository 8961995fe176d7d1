// A TensorFlow.js graph model (model.json: `modelTopology` + `weightsManifest`, weights in
// the .bin shards beside it) executed on libtorch, CPU, with TensorFlow's semantics: NHWC
// data, float32/int32/bool tensors, dataflow control flow (Enter/Merge/Switch/Exit/
// NextIteration frames as tfjs-converter's executor runs them) and TensorList values.
// Loading parses the graph and decodes every weight once; Run only executes the nodes the
// requested outputs need. libtorch stays behind the pimpl so callers need none of it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::pose {

// A dense row-major tensor on the host: the values in `floats` (kFloat32) or `ints`
// (kInt32 and kBool, 0 or 1).
struct HostTensor {
  enum class DType { kFloat32, kInt32, kBool };
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<float> floats;
  std::vector<int32_t> ints;

  int64_t NumElements() const;
  static HostTensor Float(std::vector<int64_t> shape, std::vector<float> values);
  static HostTensor Int(std::vector<int64_t> shape, std::vector<int32_t> values);
};

class GraphModel {
 public:
  struct Impl;  // graph, decoded weights, prepared kernels (src/graph_impl.h)

  // `model_json` is the model.json path; its weight shards are read from the same folder.
  // Errors name the file (missing or short shard, malformed JSON, unknown dtype, ...).
  static StatusOr<std::shared_ptr<const GraphModel>> Load(const std::string& model_json);

  ~GraphModel();
  GraphModel(const GraphModel&) = delete;
  GraphModel& operator=(const GraphModel&) = delete;

  // Feeds the named Placeholders and returns the named outputs ("node" or "node:index"),
  // in order. Any graph node can be an output, so intermediate tensors can be inspected.
  // An op the interpreter lacks is an error naming the op and the node.
  // With `ms_by_op`, adds each op's wall time (milliseconds) to it, for profiling.
  StatusOr<std::vector<HostTensor>> Run(
      const std::vector<std::pair<std::string, HostTensor>>& inputs,
      const std::vector<std::string>& outputs,
      std::map<std::string, double>* ms_by_op = nullptr) const;

  // The Placeholder names, in graph order.
  std::vector<std::string> InputNames() const;
  // Every node's name, in graph order (to find intermediate nodes to inspect).
  std::vector<std::string> NodeNames() const;

  const Impl& impl() const { return *impl_; }

 private:
  explicit GraphModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace farm::pose
