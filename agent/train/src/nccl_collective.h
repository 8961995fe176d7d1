// The NCCL backend: CUDA tensors, collectives on the current CUDA stream of this rank's
// device, no host copies. Compiled only when FARM_HAVE_NCCL is set (libtorch with CUDA and
// NCCL found at configure time); CPU builds never see this file's types.
#pragma once

#if defined(FARM_HAVE_NCCL)

#include <memory>

#include "farm/agent/collective.h"

namespace farm::agent {

// How many CUDA devices this process sees (0 when the driver has none).
int VisibleCudaDevices();

// Makes the NCCL communicator: MPI gives the world and picks this rank's device (its rank
// among the ranks on the same host, modulo the devices visible), rank 0 makes the NCCL
// unique id and MPI broadcasts it, then ncclCommInitRank joins every rank.
StatusOr<std::unique_ptr<Collective>> MakeNcclCollective();

}  // namespace farm::agent

#endif  // FARM_HAVE_NCCL
