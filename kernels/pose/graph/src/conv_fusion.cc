// Finds the conv + bias add (+ Relu/Relu6) chains GraphModel::Impl::fusions lists.
#include "graph_impl.h"

namespace farm::pose::internal {
namespace {

bool IsConst(const GraphModel::Impl& impl, int node) {
  return impl.graph.nodes[static_cast<size_t>(node)].op == "Const";
}

// The node's data inputs; false when it has control inputs too.
bool DataInputs(const Node& node, std::vector<InputRef>& data) {
  data.clear();
  for (const InputRef& in : node.inputs) {
    if (in.control) return false;
    data.push_back(in);
  }
  return true;
}

bool OnlyConsumer(const GraphModel::Impl& impl, int node, int consumer) {
  const std::vector<int>& list = impl.consumers[static_cast<size_t>(node)];
  return list.size() == 1 && list[0] == consumer;
}

}  // namespace

std::vector<ConvFusion> FindConvFusions(const GraphModel::Impl& impl) {
  std::vector<ConvFusion> fusions;
  const std::vector<Node>& nodes = impl.graph.nodes;
  std::vector<InputRef> conv_in, add_in, act_in;
  for (size_t a = 0; a < nodes.size(); ++a) {
    const Node& add = nodes[a];
    if ((add.op != "AddV2" && add.op != "Add" && add.op != "BiasAdd") || !DataInputs(add, add_in) ||
        add_in.size() != 2 || add_in[0].index != 0 || add_in[1].index != 0) {
      continue;
    }
    for (int side = 0; side < 2; ++side) {
      const int c = add_in[static_cast<size_t>(side)].node;
      const int b = add_in[static_cast<size_t>(1 - side)].node;
      const Node& conv = nodes[static_cast<size_t>(c)];
      const bool depthwise = conv.op == "DepthwiseConv2dNative";
      if ((conv.op != "Conv2D" && !depthwise) || !IsConst(impl, b) ||
          !OnlyConsumer(impl, c, static_cast<int>(a)) || !DataInputs(conv, conv_in) ||
          conv_in.size() != 2 || !IsConst(impl, conv_in[1].node)) {
        continue;
      }
      if (add.op == "BiasAdd" && side != 0) continue;
      const at::Tensor& filter = impl.constants[static_cast<size_t>(conv_in[1].node)];
      const at::Tensor& bias = impl.constants[static_cast<size_t>(b)];
      if (filter.dim() != 4 || !filter.is_floating_point() || bias.dim() != 1 ||
          !bias.is_floating_point()) {
        continue;
      }
      const int64_t out_channels = depthwise ? filter.size(2) * filter.size(3) : filter.size(3);
      if (bias.size(0) != out_channels) continue;

      ConvFusion f;
      f.conv = c;
      f.add = static_cast<int>(a);
      f.add_conv_input = side;
      f.bias = bias.to(at::kFloat).contiguous();
      std::vector<std::string> ops = {"BiasAdd"};
      const std::vector<int>& after = impl.consumers[a];
      if (after.size() == 1) {
        const Node& act = nodes[static_cast<size_t>(after[0])];
        if ((act.op == "Relu6" || act.op == "Relu") && DataInputs(act, act_in) &&
            act_in.size() == 1 && act_in[0].node == static_cast<int>(a) && act_in[0].index == 0) {
          f.act = after[0];
          ops.push_back(act.op);
        }
      }
      f.node = conv;
      f.node.op = depthwise ? "FusedDepthwiseConv2dNative" : "_FusedConv2D";
      AttrValue fused_ops;
      fused_ops.has_list = true;
      fused_ops.list_s = ops;
      f.node.attrs["fused_ops"] = fused_ops;
      const KernelDef* kernel = FindKernel(f.node.op);
      if (!kernel || !kernel->prepare) continue;
      f.prepared = kernel->prepare(f.node, {at::Tensor(), filter, f.bias});
      fusions.push_back(std::move(f));
      break;
    }
  }
  return fusions;
}

}  // namespace farm::pose::internal
