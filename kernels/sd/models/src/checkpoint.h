// Gradient checkpointing (activation recomputation) of one block of a model: while autograd
// records, the block runs without saving its intermediate activations, and its backward
// runs it again from the saved inputs to get them. Memory then holds block inputs only,
// for about one extra forward of compute.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "layers.h"

namespace farm::sd {

// A block's forward over its weights and tensor inputs. It must be a pure function of
// them (no random draws, no state): the backward calls it again and needs the same result.
using BlockForward = std::function<at::Tensor(const Weights& w, const std::vector<at::Tensor>& inputs)>;

// Runs `forward(w, inputs)`. When `w.checkpoint_blocks()` is set and autograd records
// (grad mode on, and an input or one of the block's adapters requires grad), the block is
// checkpointed: the weights it may read are those named `prefix`.*, the adapters those on
// modules `prefix`.*; their LoRA tensors receive gradients through the checkpoint as they
// would without it. Without checkpointing (but recording), each input that requires grad
// enters the block through a view, so that its gradient is summed inside the block first
// in both modes and the gradients are the same bits either way. Inputs may be undefined.
at::Tensor CheckpointedBlock(const Weights& w, const std::string& prefix,
                             const std::vector<at::Tensor>& inputs, const BlockForward& forward);

}  // namespace farm::sd
