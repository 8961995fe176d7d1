// Picks a backend by name; "auto" follows how the process was launched.
#include <string>

#include "farm/agent/collective.h"
#include "farm/agent/single_collective.h"
#include "mpi_collective.h"
#if defined(FARM_HAVE_NCCL)
#include "nccl_collective.h"
#endif

namespace farm::agent {

bool NcclBackendBuilt() {
#if defined(FARM_HAVE_NCCL)
  return true;
#else
  return false;
#endif
}

namespace {

StatusOr<std::unique_ptr<Collective>> MakeSingle() {
  return std::unique_ptr<Collective>(std::make_unique<SingleCollective>());
}

StatusOr<std::unique_ptr<Collective>> MakeMpi() {
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<MpiCollective> mpi, MpiCollective::Create());
  return std::unique_ptr<Collective>(std::move(mpi));
}

StatusOr<std::unique_ptr<Collective>> MakeNccl() {
#if defined(FARM_HAVE_NCCL)
  return MakeNcclCollective();
#else
  return FailedPrecondition(
      "collective backend \"nccl\" is not in this build: it needs a CUDA build of libtorch "
      "and NCCL (nccl.h, libnccl) at configure time (CMake option FARM_WITH_NCCL); use "
      "\"mpi\" or \"auto\"");
#endif
}

bool CudaVisible() {
#if defined(FARM_HAVE_NCCL)
  return VisibleCudaDevices() > 0;
#else
  return false;
#endif
}

}  // namespace

StatusOr<std::unique_ptr<Collective>> MakeCollective(std::string_view backend,
                                                     const LaunchEnvironment& launch) {
  if (backend == "single") return MakeSingle();
  if (backend == "mpi") return MakeMpi();
  if (backend == "nccl") return MakeNccl();
  if (backend == "auto") {
    // Started alone, there is no one to talk to: no MPI start-up cost and no dependence on
    // a working MPI installation for one-process runs.
    if (!launch.under_mpi_launcher) return MakeSingle();
    if (NcclBackendBuilt() && CudaVisible()) return MakeNccl();
    return MakeMpi();
  }
  return InvalidArgument("unknown collective backend \"" + std::string(backend) +
                         "\": expected auto, mpi, nccl or single");
}

}  // namespace farm::agent
