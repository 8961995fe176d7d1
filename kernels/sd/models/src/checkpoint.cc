// The only file that includes the autograd Function headers (heavy to parse).
#include "checkpoint.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <utility>

namespace farm::sd {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the backward needs to run the block again. Weights and adapters are copies of the
// handles (the tensors are shared), so the backward does not depend on the model object.
struct BlockState : torch::CustomClassHolder {
  TensorMap weights;
  LayerAdapters adapters;
  std::vector<std::string> adapter_modules;  // their down, up follow the inputs, in this order
  std::vector<bool> defined;                 // per block input
  BlockForward forward;
};

// The Function's tensors are the defined block inputs, then down and up of every adapter:
// the LoRA tensors are leaves the block reads from outside, so they must be inputs of the
// Function for their gradients to reach AccumulateGrad (and the parameters' .grad) as usual.
std::vector<at::Tensor> BlockInputs(const BlockState& state, at::TensorList tensors) {
  std::vector<at::Tensor> inputs;
  size_t next = 0;
  for (bool defined : state.defined) inputs.push_back(defined ? tensors[next++] : at::Tensor());
  return inputs;
}

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  // Runs under no-grad (Function::apply): nothing inside the block is saved.
  static at::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<BlockState> state,
                            at::TensorList tensors) {
    ctx->save_for_backward(tensors.vec());
    at::Tensor out = state->forward(Weights(state->weights, &state->adapters), BlockInputs(*state, tensors));
    ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
    return out;
  }

  // Runs the block again with autograd on detached copies of its inputs and LoRA tensors,
  // and differentiates it alone; the engine then passes the results on to the real inputs.
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto state = c10::static_intrusive_pointer_cast<BlockState>(ctx->saved_data["state"].toCapsule());
    const variable_list saved = ctx->get_saved_variables();
    std::vector<at::Tensor> leaves, wanted;
    std::vector<size_t> wanted_index;
    for (size_t i = 0; i < saved.size(); ++i) {
      at::Tensor leaf = saved[i].detach();
      if (ctx->needs_input_grad(i)) {
        leaf.requires_grad_(true);
        wanted.push_back(leaf);
        wanted_index.push_back(i);
      }
      leaves.push_back(std::move(leaf));
    }
    variable_list grads(saved.size() + 1);  // [0] belongs to the state, not a tensor
    if (wanted.empty()) return grads;

    LayerAdapters adapters = state->adapters;
    const size_t first_adapter = saved.size() - 2 * state->adapter_modules.size();
    for (size_t m = 0; m < state->adapter_modules.size(); ++m) {
      LayerAdapter& adapter = adapters.at(state->adapter_modules[m]);
      adapter.down = leaves[first_adapter + 2 * m];
      adapter.up = leaves[first_adapter + 2 * m + 1];
    }
    at::Tensor out;
    {
      c10::AutoGradMode grad_mode(true);
      out = state->forward(Weights(state->weights, &adapters), BlockInputs(*state, leaves));
    }
    const variable_list computed = torch::autograd::grad({out}, wanted, {grad_outputs[0]},
                                                         /*retain_graph=*/false, /*create_graph=*/false,
                                                         /*allow_unused=*/true);
    for (size_t k = 0; k < wanted.size(); ++k) grads[wanted_index[k] + 1] = computed[k];
    return grads;
  }
};

}  // namespace

at::Tensor CheckpointedBlock(const Weights& w, const std::string& prefix,
                             const std::vector<at::Tensor>& inputs, const BlockForward& forward) {
  if (!at::GradMode::is_enabled()) return forward(w, inputs);
  if (!w.checkpoint_blocks()) {
    // Each differentiated input enters through its own view, whose backward node sums the
    // block's uses of it before they reach the rest of the graph, exactly as the detached
    // input of a checkpointed block does: the order of float32 additions, and so every
    // gradient bit, is then the same with and without checkpointing.
    std::vector<at::Tensor> viewed = inputs;
    for (at::Tensor& input : viewed) {
      if (input.defined() && input.requires_grad()) input = at::alias(input);
    }
    return forward(w, viewed);
  }
  auto state = c10::make_intrusive<BlockState>();
  std::vector<at::Tensor> tensors;
  bool records = false;
  for (const at::Tensor& input : inputs) {
    state->defined.push_back(input.defined());
    if (!input.defined()) continue;
    tensors.push_back(input);
    records = records || input.requires_grad();
  }
  // Names under the block: from "prefix." up to (not including) "prefix/", '/' following '.'.
  const std::string first = prefix + ".", last = prefix + "/";
  if (const LayerAdapters* adapters = w.adapters()) {
    for (auto it = adapters->lower_bound(first); it != adapters->lower_bound(last); ++it) {
      state->adapter_modules.push_back(it->first);
      state->adapters.insert(*it);
      tensors.push_back(it->second.down);
      tensors.push_back(it->second.up);
      records = records || it->second.down.requires_grad() || it->second.up.requires_grad();
    }
  }
  if (!records) return forward(w, inputs);  // nothing to differentiate: no graph either way
  for (auto it = w.map().lower_bound(first); it != w.map().lower_bound(last); ++it) {
    state->weights.insert(*it);
  }
  state->forward = forward;
  return CheckpointFunction::apply(state, at::TensorList(tensors));
}

}  // namespace farm::sd
