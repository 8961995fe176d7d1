#include "mpi_collective.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <climits>

namespace farm::agent {

StatusOr<std::unique_ptr<MpiCollective>> MpiCollective::Create() {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<MpiRuntime> runtime, MpiRuntime::Acquire());
  // Our own communicator: its handler and traffic cannot clash with other MPI users in
  // the process; it inherits MPI_ERRORS_RETURN when we initialised MPI, and gets it below
  // in any case.
  MPI_Comm comm = MPI_COMM_NULL;
  FARM_RETURN_IF_ERROR(MpiStatus(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup"));
  const Status handler =
      MpiStatus(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  int rank = 0;
  int size = 0;
  Status sizes = handler.ok() ? MpiStatus(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank") : handler;
  if (sizes.ok()) sizes = MpiStatus(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (!sizes.ok()) {
    MPI_Comm_free(&comm);
    return sizes;
  }
  return std::unique_ptr<MpiCollective>(new MpiCollective(std::move(runtime), comm, rank, size));
}

MpiCollective::~MpiCollective() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

std::string MpiCollective::Where(const char* call) const {
  return std::string(call) + " on rank " + std::to_string(rank_) + " of " +
         std::to_string(world_size_);
}

// MPI counts are ints: a buffer past INT_MAX elements goes in chunks (one logical
// collective; the chunks are issued in the same order on every rank).
Status MpiCollective::DoAllReduceMean(const at::Tensor& flat) {
  float* data = flat.data_ptr<float>();
  const int64_t numel = flat.numel();
  for (int64_t offset = 0; offset < numel; offset += INT_MAX) {
    const int count = static_cast<int>(std::min<int64_t>(INT_MAX, numel - offset));
    FARM_RETURN_IF_ERROR(MpiStatus(
        MPI_Allreduce(MPI_IN_PLACE, data + offset, count, MPI_FLOAT, MPI_SUM, comm_),
        Where("MPI_Allreduce")));
  }
  if (world_size_ > 1) flat.div_(static_cast<double>(world_size_));
  return Status::Ok();
}

Status MpiCollective::DoBroadcast(const at::Tensor& tensor, int root) {
  auto* bytes = static_cast<char*>(tensor.data_ptr());
  const int64_t nbytes = static_cast<int64_t>(tensor.nbytes());
  for (int64_t offset = 0; offset < nbytes; offset += INT_MAX) {
    const int count = static_cast<int>(std::min<int64_t>(INT_MAX, nbytes - offset));
    FARM_RETURN_IF_ERROR(MpiStatus(MPI_Bcast(bytes + offset, count, MPI_BYTE, root, comm_),
                                   Where("MPI_Bcast")));
  }
  return Status::Ok();
}

StatusOr<std::vector<uint64_t>> MpiCollective::DoAllGatherU64(uint64_t value) {
  std::vector<uint64_t> values(static_cast<size_t>(world_size_));
  FARM_RETURN_IF_ERROR(MpiStatus(
      MPI_Allgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, comm_),
      Where("MPI_Allgather")));
  return values;
}

Status MpiCollective::DoBarrier() {
  return MpiStatus(MPI_Barrier(comm_), Where("MPI_Barrier"));
}

}  // namespace farm::agent
