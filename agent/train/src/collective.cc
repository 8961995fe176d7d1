// The checks and counters every backend shares; backends see only checked arguments.
#include "farm/agent/collective.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <sstream>

namespace farm::agent {

namespace {

std::string Describe(const at::Tensor& tensor) {
  std::ostringstream out;
  out << tensor.scalar_type() << " tensor of shape " << tensor.sizes() << " on "
      << tensor.device();
  return out.str();
}

}  // namespace

Status Collective::CheckTensor(const char* op, const at::Tensor& tensor,
                               bool float32_only) const {
  const std::string where = std::string(backend()) + " " + op + " (rank " +
                            std::to_string(rank()) + ")";
  if (!tensor.defined()) {
    return InvalidArgument(where + ": the tensor is undefined");
  }
  if (float32_only && tensor.scalar_type() != at::kFloat) {
    return InvalidArgument(where + ": expected a float32 tensor, got a " + Describe(tensor));
  }
  if (!tensor.is_contiguous()) {
    // A strided view would make the backend read the wrong elements: the caller packs
    // gradients into one contiguous buffer instead.
    return InvalidArgument(where + ": expected a contiguous tensor, got a strided view (" +
                           Describe(tensor) + ")");
  }
  const std::optional<int> device = cuda_device();
  if (device.has_value()) {
    if (!tensor.is_cuda() || tensor.get_device() != *device) {
      return InvalidArgument(where + ": expected a tensor on cuda:" + std::to_string(*device) +
                             ", got a " + Describe(tensor));
    }
  } else if (!tensor.is_cpu()) {
    return InvalidArgument(where + ": expected a CPU tensor, got a " + Describe(tensor));
  }
  return Status::Ok();
}

Status Collective::AllReduceMean(const at::Tensor& flat) {
  FARM_RETURN_IF_ERROR(CheckTensor("all-reduce", flat, /*float32_only=*/true));
  ++counters_.all_reduces;
  counters_.bytes_all_reduced += flat.nbytes();
  return DoAllReduceMean(flat);
}

Status Collective::Broadcast(const at::Tensor& tensor, int root) {
  FARM_RETURN_IF_ERROR(CheckTensor("broadcast", tensor, /*float32_only=*/false));
  if (root < 0 || root >= world_size()) {
    return InvalidArgument(std::string(backend()) + " broadcast (rank " +
                           std::to_string(rank()) + "): root " + std::to_string(root) +
                           " is not a rank of this world (0.." +
                           std::to_string(world_size() - 1) + ")");
  }
  ++counters_.broadcasts;
  counters_.bytes_broadcast += tensor.nbytes();
  return DoBroadcast(tensor, root);
}

StatusOr<std::vector<uint64_t>> Collective::AllGatherU64(uint64_t value) {
  ++counters_.all_gathers;
  return DoAllGatherU64(value);
}

Status Collective::Barrier() {
  ++counters_.barriers;
  return DoBarrier();
}

LaunchEnvironment LaunchEnvironment::FromProcess() {
  return FromLookup([](const char* name) { return std::getenv(name); });
}

}  // namespace farm::agent
