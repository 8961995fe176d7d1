// Named intermediate outputs a model forward can hand back, so that a parity failure
// against the reference can be traced to the first block that diverges.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace farm::sd {

// Tap name (for example "conv_in", "down_block_0", "mid_block") -> a copy-free
// reference to that block's output.
using DebugTaps = std::map<std::string, at::Tensor>;

}  // namespace farm::sd
