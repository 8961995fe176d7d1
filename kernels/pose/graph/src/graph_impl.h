// GraphModel's private state: the parsed graph, constants decoded once, per-node kernels
// and their prepared tensors, and the consumer lists the executor schedules with.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "farm/pose/graph_model.h"
#include "graph_def.h"
#include "kernel.h"
#include "value.h"

namespace farm::pose {

namespace internal {

// A conv whose only consumer adds a per-channel constant (its bias), optionally followed by
// that add's only consumer, a Relu/Relu6: as Keras exports unfused layers (the hand-landmark
// net). When a run needs none of the intermediate values, the conv runs as `node` (the
// fused op, fused_ops [BiasAdd, act]) with `bias` appended to its inputs, and the add and
// activation pass their conv input through.
struct ConvFusion {
  int conv = -1, add = -1, act = -1;  // act -1: none
  int add_conv_input = 0;             // which of the add's data inputs is the conv
  Node node;
  at::Tensor bias;
  Prepared prepared;
};

}  // namespace internal

struct GraphModel::Impl {
  internal::Graph graph;
  std::string origin;                               // model.json path, for errors
  std::vector<at::Tensor> constants;                // per node; defined for Const nodes
  std::vector<const internal::KernelDef*> kernels;  // per node; nullptr: executor op or unknown
  std::vector<internal::Prepared> prepared;         // per node, from KernelDef::prepare
  std::vector<std::vector<int>> consumers;          // per node, each consumer once
  std::vector<internal::ConvFusion> fusions;
};

namespace internal {

// Runs the graph: `feeds` are Placeholder node -> value, `outputs` the (node, index)
// pairs wanted. Only nodes the outputs depend on run.
StatusOr<std::vector<Value>> Execute(const GraphModel::Impl& impl,
                                     const std::vector<std::pair<int, Value>>& feeds,
                                     const std::vector<InputRef>& outputs,
                                     std::map<std::string, double>* ms_by_op = nullptr);

// The ConvFusions of a loaded graph (constants, kernels and consumers filled in).
std::vector<ConvFusion> FindConvFusions(const GraphModel::Impl& impl);

// A Const node's inline `value` tensor (tensorContent or typed *_val fields).
StatusOr<at::Tensor> ConstFromAttr(const Node& node, const std::string& origin);

}  // namespace internal
}  // namespace farm::pose
