// Dataflow execution with TF's v1 control flow, as tfjs-converter's GraphExecutor runs it:
// values live per (node, context); a context is the stack of (frame, iteration) the value
// belongs to. Enter pushes a frame (an is_constant Enter's value stays visible to every
// iteration), NextIteration advances the innermost iteration, Exit pops the frame.
// Switch leaves one output dead (absent); a node runs only when all its inputs (control
// edges included) are present, a Merge when any data input is, so untaken branches and
// finished loops simply stop. An input is looked up in the node's context, then in each
// enclosing one.
#include <chrono>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "graph_impl.h"

namespace farm::pose::internal {
namespace {

// A loop that runs longer than this is taken for a graph that never terminates.
constexpr int64_t kMaxIterations = 1 << 20;

struct Frame {
  std::string name;
  int64_t iteration = 0;
};
using Context = std::vector<Frame>;

std::string ContextId(const Context& ctx, size_t depth) {
  std::string id;
  for (size_t i = 0; i < depth; ++i) {
    id += (i ? "/" : "") + ctx[i].name + "-" + std::to_string(ctx[i].iteration);
  }
  return id;
}

using Outputs = std::vector<std::optional<Value>>;  // nullopt: a dead output

class Execution {
 public:
  Execution(const GraphModel::Impl& impl, std::vector<bool> needed, std::unordered_set<int> preset,
            std::map<std::string, double>* ms_by_op)
      : impl_(impl),
        needed_(std::move(needed)),
        preset_(std::move(preset)),
        ms_by_op_(ms_by_op),
        root_(impl.graph.nodes.size()),
        root_added_(impl.graph.nodes.size(), false) {}

  // Applies the graph's ConvFusions whose intermediate values nobody asked for.
  void UseFusions(const std::vector<InputRef>& outputs) {
    const size_t n = impl_.graph.nodes.size();
    fused_.assign(n, -1);
    forward_.assign(n, -1);
    std::vector<bool> wanted(n, false);
    for (const InputRef& out : outputs) wanted[static_cast<size_t>(out.node)] = true;
    for (size_t f = 0; f < impl_.fusions.size(); ++f) {
      const ConvFusion& fu = impl_.fusions[f];
      const auto conv = static_cast<size_t>(fu.conv), add = static_cast<size_t>(fu.add);
      if (!needed_[conv] || !needed_[add] || wanted[conv] || preset_.count(fu.conv) ||
          preset_.count(fu.add)) {
        continue;
      }
      if (fu.act >= 0 && (!needed_[static_cast<size_t>(fu.act)] || wanted[add] ||
                          preset_.count(fu.act))) {
        continue;
      }
      fused_[conv] = static_cast<int>(f);
      forward_[add] = fu.add_conv_input;
      if (fu.act >= 0) forward_[static_cast<size_t>(fu.act)] = 0;
    }
  }

  void Store(int node, const std::string& ctx_id, Outputs outputs) {
    if (ctx_id.empty()) {
      root_[static_cast<size_t>(node)] = std::move(outputs);
    } else {
      values_[Key(node, ctx_id)] = std::move(outputs);
    }
  }

  const Outputs* Entry(int node, const Context& ctx) const {
    for (size_t depth = ctx.size(); depth > 0; --depth) {
      auto it = values_.find(Key(node, ContextId(ctx, depth)));
      if (it != values_.end()) return &it->second;
    }
    const std::optional<Outputs>& root = root_[static_cast<size_t>(node)];
    return root ? &*root : nullptr;
  }

  const Value* Get(const InputRef& ref, const Context& ctx) const {
    const Outputs* entry = Entry(ref.node, ctx);
    if (!entry || ref.index < 0 || static_cast<size_t>(ref.index) >= entry->size()) return nullptr;
    const std::optional<Value>& v = (*entry)[static_cast<size_t>(ref.index)];
    return v ? &*v : nullptr;
  }

  bool Available(const InputRef& ref, const Context& ctx) const {
    if (!ref.control) return Get(ref, ctx) != nullptr;
    const Outputs* entry = Entry(ref.node, ctx);
    if (!entry) return false;
    if (entry->empty()) return true;
    for (const auto& v : *entry) {
      if (v) return true;
    }
    return false;
  }

  void PushReadyConsumers(int node, const Context& ctx) {
    const std::string ctx_id = ContextId(ctx, ctx.size());
    for (int c : impl_.consumers[static_cast<size_t>(node)]) {
      if (!needed_[static_cast<size_t>(c)]) continue;
      std::string key;
      if (ctx_id.empty()) {
        if (root_added_[static_cast<size_t>(c)]) continue;
      } else {
        key = Key(c, ctx_id);
        if (added_.count(key)) continue;
      }
      const Node& consumer = impl_.graph.nodes[static_cast<size_t>(c)];
      bool ready;
      if (consumer.op == "Merge") {
        ready = false;
        for (const InputRef& in : consumer.inputs)
          ready = ready || (!in.control && Available(in, ctx));
      } else {
        ready = true;
        for (const InputRef& in : consumer.inputs) ready = ready && Available(in, ctx);
      }
      if (ready) {
        if (ctx_id.empty()) {
          root_added_[static_cast<size_t>(c)] = true;
        } else {
          added_.insert(key);
        }
        stack_.push_back({c, ctx});
      }
    }
  }

  Status RunAll() {
    while (!stack_.empty()) {
      auto [node_index, ctx] = std::move(stack_.back());
      stack_.pop_back();
      const Node& node = impl_.graph.nodes[static_cast<size_t>(node_index)];
      if (preset_.count(node_index)) {  // its value is stored in the root context
        PushReadyConsumers(node_index, ctx);
        continue;
      }
      Context out_ctx = ctx;
      std::string store_id;
      Outputs outputs;
      const auto start = std::chrono::steady_clock::now();
      try {
        FARM_RETURN_IF_ERROR(RunNode(node_index, ctx, out_ctx, store_id, outputs));
      } catch (const KernelError& e) {
        return InvalidArgument(Where(node) + ": " + e.what());
      } catch (const c10::Error& e) {  // libtorch's shape checks: bad input for this graph
        return InvalidArgument(Where(node) + ": " + e.what_without_backtrace());
      } catch (const std::exception& e) {
        return Internal(Where(node) + ": " + e.what());
      }
      if (ms_by_op_) {
        (*ms_by_op_)[node.op] +=
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
      }
      Store(node_index, store_id, std::move(outputs));
      if (ctx.empty()) Release(node);
      PushReadyConsumers(node_index, out_ctx);
    }
    return Status::Ok();
  }

  std::vector<std::pair<int, Context>>& stack() { return stack_; }

  // Root-context values are freed once every consumer edge has read them. A value read
  // inside a loop frame keeps its count above zero and lives to the end of the run.
  void CountConsumers(const std::vector<InputRef>& outputs) {
    remaining_.assign(impl_.graph.nodes.size(), 0);
    for (size_t n = 0; n < impl_.graph.nodes.size(); ++n) {
      if (!needed_[n]) continue;
      for (const InputRef& in : impl_.graph.nodes[n].inputs)
        remaining_[static_cast<size_t>(in.node)] += in.control ? 0 : 1;
    }
    for (const InputRef& out : outputs)
      remaining_[static_cast<size_t>(out.node)] += 1;  // never reaches 0
  }

  std::string Where(const Node& node) const {
    return impl_.origin + ": node \"" + node.name + "\" (" + node.op + ")";
  }

 private:
  static std::string Key(int node, const std::string& ctx_id) {
    return ctx_id + "|" + std::to_string(node);
  }

  void Release(const Node& node) {
    for (const InputRef& in : node.inputs) {
      if (in.control || preset_.count(in.node)) continue;
      if (--remaining_[static_cast<size_t>(in.node)] == 0)
        root_[static_cast<size_t>(in.node)].reset();
    }
  }

  Status RunNode(int node_index, const Context& ctx, Context& out_ctx, std::string& store_id,
                 Outputs& outputs) {
    const Node& node = impl_.graph.nodes[static_cast<size_t>(node_index)];
    std::vector<Value> inputs;
    if (node.op == "Merge") {
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (node.inputs[i].control) continue;
        if (const Value* v = Get(node.inputs[i], ctx)) {
          outputs = {*v, Value::Of(at::scalar_tensor(static_cast<int32_t>(i), at::kInt))};
          break;
        }
      }
      store_id = ContextId(ctx, ctx.size());
      return Status::Ok();
    }
    for (const InputRef& in : node.inputs) {
      if (in.control) continue;
      const Value* v = Get(in, ctx);
      if (!v)
        return Internal(Where(node) + ": input " +
                        impl_.graph.nodes[static_cast<size_t>(in.node)].name + " is missing");
      inputs.push_back(*v);
    }
    auto want_inputs = [&](size_t n) -> Status {
      if (inputs.size() < n) {
        return InvalidArgument(Where(node) + ": needs " + std::to_string(n) + " inputs, has " +
                               std::to_string(inputs.size()));
      }
      return Status::Ok();
    };
    if (node.op == "Enter") {
      FARM_RETURN_IF_ERROR(want_inputs(1));
      const std::string frame = node.String("frame_name", "");
      out_ctx.push_back({frame, 0});
      const bool constant = node.Bool("is_constant", false);
      store_id = constant ? ContextId(ctx, ctx.size()) : ContextId(out_ctx, out_ctx.size());
      outputs = {inputs[0]};
      return Status::Ok();
    }
    if (node.op == "Exit") {
      FARM_RETURN_IF_ERROR(want_inputs(1));
      if (out_ctx.empty()) return InvalidArgument(Where(node) + ": Exit outside any loop frame");
      out_ctx.pop_back();
      store_id = ContextId(out_ctx, out_ctx.size());
      outputs = {inputs[0]};
      return Status::Ok();
    }
    if (node.op == "NextIteration") {
      FARM_RETURN_IF_ERROR(want_inputs(1));
      if (out_ctx.empty())
        return InvalidArgument(Where(node) + ": NextIteration outside any loop frame");
      if (++out_ctx.back().iteration > kMaxIterations) {
        return InvalidArgument(Where(node) + ": loop frame \"" + out_ctx.back().name +
                               "\" ran more than " + std::to_string(kMaxIterations) +
                               " iterations");
      }
      store_id = ContextId(out_ctx, out_ctx.size());
      outputs = {inputs[0]};
      return Status::Ok();
    }
    store_id = ContextId(ctx, ctx.size());
    if (node.op == "Switch") {
      FARM_RETURN_IF_ERROR(want_inputs(2));
      const at::Tensor& pred = inputs[1].tensor;
      if (!pred.defined() || pred.numel() != 1)
        return InvalidArgument(Where(node) + ": predicate must be a scalar");
      const bool taken = pred.item().toBool();
      outputs = taken ? Outputs{std::nullopt, inputs[0]} : Outputs{inputs[0], std::nullopt};
      return Status::Ok();
    }
    if (node.op == "LoopCond" || node.op == "Identity" || node.op == "StopGradient" ||
        node.op == "Snapshot") {
      FARM_RETURN_IF_ERROR(want_inputs(1));
      outputs = {inputs[0]};
      return Status::Ok();
    }
    if (node.op == "NoOp") return Status::Ok();
    if (const int slot = forward_[static_cast<size_t>(node_index)]; slot >= 0) {
      FARM_RETURN_IF_ERROR(want_inputs(static_cast<size_t>(slot) + 1));
      outputs = {inputs[static_cast<size_t>(slot)]};  // the fused conv did this node's work
      return Status::Ok();
    }
    std::vector<Value> results;
    if (const int f = fused_[static_cast<size_t>(node_index)]; f >= 0) {
      const ConvFusion& fusion = impl_.fusions[static_cast<size_t>(f)];
      const KernelDef* kernel = FindKernel(fusion.node.op);
      inputs.push_back(Value::Of(fusion.bias));
      results = kernel->run(fusion.node, inputs, fusion.prepared);
    } else {
      const KernelDef* kernel = impl_.kernels[static_cast<size_t>(node_index)];
      if (!kernel) return InvalidArgument(Where(node) + ": unknown op \"" + node.op + "\"");
      results = kernel->run(node, inputs, impl_.prepared[static_cast<size_t>(node_index)]);
    }
    outputs.reserve(results.size());
    for (Value& v : results) outputs.emplace_back(std::move(v));
    return Status::Ok();
  }

  const GraphModel::Impl& impl_;
  std::vector<bool> needed_;
  std::unordered_set<int> preset_;  // fed nodes and constants: stored before the run
  std::map<std::string, double>* ms_by_op_;
  std::vector<int> remaining_;  // per node: consumer edges not yet run
  std::vector<int> fused_;      // per node: the ConvFusion it runs as, or -1
  std::vector<int> forward_;    // per node: the input it passes through (fused away), or -1
  // Values and scheduled nodes of the root context by node index (most of a graph), those
  // inside loop frames by "context|node" key.
  std::vector<std::optional<Outputs>> root_;
  std::vector<bool> root_added_;
  std::unordered_map<std::string, Outputs> values_;
  std::unordered_set<std::string> added_;
  std::vector<std::pair<int, Context>> stack_;
};

}  // namespace

bool IsExecutorOp(const std::string& op) {
  static const std::unordered_set<std::string> ops = {
      "Const",  "Placeholder", "Enter",    "Exit",         "NextIteration", "Merge",
      "Switch", "LoopCond",    "Identity", "StopGradient", "Snapshot",      "NoOp"};
  return ops.count(op) > 0;
}

StatusOr<std::vector<Value>> Execute(const GraphModel::Impl& impl,
                                     const std::vector<std::pair<int, Value>>& feeds,
                                     const std::vector<InputRef>& outputs,
                                     std::map<std::string, double>* ms_by_op) {
  const Graph& graph = impl.graph;
  // The nodes the outputs depend on, through data and control edges (NextIteration back
  // edges included, so a loop's whole body is kept).
  std::vector<bool> needed(graph.nodes.size(), false);
  std::vector<int> work;
  for (const InputRef& out : outputs) work.push_back(out.node);
  std::unordered_set<int> fed;
  for (const auto& [node, value] : feeds) fed.insert(node);
  while (!work.empty()) {
    const int n = work.back();
    work.pop_back();
    if (needed[static_cast<size_t>(n)]) continue;
    needed[static_cast<size_t>(n)] = true;
    if (fed.count(n)) continue;  // a fed node's inputs are not needed
    for (const InputRef& in : graph.nodes[static_cast<size_t>(n)].inputs) work.push_back(in.node);
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!needed[n] || fed.count(static_cast<int>(n))) continue;
    const Node& node = graph.nodes[n];
    if (node.op == "Placeholder") {
      return InvalidArgument(impl.origin + ": input \"" + node.name +
                             "\" is needed but was not fed");
    }
    if (!IsExecutorOp(node.op) && !impl.kernels[n]) {
      return InvalidArgument(impl.origin + ": node \"" + node.name + "\" uses op \"" + node.op +
                             "\", which this interpreter does not implement");
    }
  }

  std::unordered_set<int> preset = fed;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (needed[n] && graph.nodes[n].op == "Const") preset.insert(static_cast<int>(n));
  }
  Execution run(impl, needed, preset, ms_by_op);
  run.CountConsumers(outputs);
  run.UseFusions(outputs);
  for (const auto& [node, value] : feeds) run.Store(node, "", {value});
  for (int n : preset) {
    if (!fed.count(n)) run.Store(n, "", {Value::Of(impl.constants[static_cast<size_t>(n)])});
  }
  // Seeds: the fed nodes, the constants and any other needed node without inputs.
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    if (!needed[n]) continue;
    if (fed.count(static_cast<int>(n)) || graph.nodes[n].inputs.empty())
      run.stack().push_back({static_cast<int>(n), {}});
  }
  FARM_RETURN_IF_ERROR(run.RunAll());

  std::vector<Value> results;
  for (const InputRef& out : outputs) {
    const Value* v = run.Get(out, {});
    if (!v) {
      return InvalidArgument(
          impl.origin + ": output \"" + graph.nodes[static_cast<size_t>(out.node)].name + ":" +
          std::to_string(out.index) +
          "\" was not computed (it lies on an untaken branch, or its node has no such output)");
    }
    results.push_back(*v);
  }
  return results;
}

}  // namespace farm::pose::internal
