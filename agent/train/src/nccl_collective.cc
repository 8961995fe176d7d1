// The NCCL backend (see nccl_collective.h). Written from the NCCL API documentation
// (ncclGetUniqueId, ncclCommInitRank, ncclAllReduce, ncclBroadcast, ncclCommGetAsyncError);
// it compiles only where libtorch has CUDA and NCCL was found.
#if defined(FARM_HAVE_NCCL)

#include "nccl_collective.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <exception>

#include "mpi_collective.h"

// ncclAvg exists from NCCL 2.10; older versions sum and divide on the same stream.
#if defined(NCCL_VERSION_CODE) && defined(NCCL_VERSION)
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
#define FARM_NCCL_HAS_AVG 1
#endif
#endif

namespace farm::agent {

namespace {

Status NcclStatus(ncclResult_t result, const std::string& what) {
  if (result == ncclSuccess) return Status::Ok();
  return Unavailable(what + " failed: " + ncclGetErrorString(result) + " (NCCL result " +
                     std::to_string(static_cast<int>(result)) + ")");
}

Status CudaStatus(cudaError_t error, const std::string& what) {
  if (error == cudaSuccess) return Status::Ok();
  return Unavailable(what + " failed: " + cudaGetErrorString(error));
}

class NcclCollective final : public Collective {
 public:
  NcclCollective(std::unique_ptr<MpiCollective> mpi, int device, ncclComm_t comm)
      : mpi_(std::move(mpi)), device_(device), comm_(comm) {}

  ~NcclCollective() override {
    // After an asynchronous error the communicator may be stuck in a kernel: abort it
    // rather than wait for it (NCCL docs, "Error handling and communicator abort").
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }

  int rank() const override { return mpi_->rank(); }
  int world_size() const override { return mpi_->world_size(); }
  std::string_view backend() const override { return "nccl"; }
  std::optional<int> cuda_device() const override { return device_; }

 protected:
  Status DoAllReduceMean(const at::Tensor& flat) override {
    try {
      cudaStream_t stream = CurrentStream();
      float* data = flat.data_ptr<float>();
      const size_t count = static_cast<size_t>(flat.numel());
#if defined(FARM_NCCL_HAS_AVG)
      FARM_RETURN_IF_ERROR(NcclStatus(
          ncclAllReduce(data, data, count, ncclFloat, ncclAvg, comm_, stream),
          Where("ncclAllReduce")));
#else
      FARM_RETURN_IF_ERROR(NcclStatus(
          ncclAllReduce(data, data, count, ncclFloat, ncclSum, comm_, stream),
          Where("ncclAllReduce")));
      // libtorch runs this on the same current stream, after the sum.
      if (world_size() > 1) flat.div_(static_cast<double>(world_size()));
#endif
      return CheckAsyncError("ncclAllReduce");
    } catch (const std::exception& e) {
      return Internal(Where("ncclAllReduce") + ": " + e.what());
    }
  }

  Status DoBroadcast(const at::Tensor& tensor, int root) override {
    try {
      cudaStream_t stream = CurrentStream();
      void* data = tensor.data_ptr();
      FARM_RETURN_IF_ERROR(NcclStatus(
          ncclBroadcast(data, data, tensor.nbytes(), ncclUint8, root, comm_, stream),
          Where("ncclBroadcast")));
      return CheckAsyncError("ncclBroadcast");
    } catch (const std::exception& e) {
      return Internal(Where("ncclBroadcast") + ": " + e.what());
    }
  }

  // Host values: MPI carries them, so no device buffer and no copy is needed.
  StatusOr<std::vector<uint64_t>> DoAllGatherU64(uint64_t value) override {
    return mpi_->AllGatherU64(value);
  }

  Status DoBarrier() override {
    try {
      FARM_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(CurrentStream()),
                                      Where("cudaStreamSynchronize before the barrier")));
      FARM_RETURN_IF_ERROR(CheckAsyncError("barrier"));
    } catch (const std::exception& e) {
      return Internal(Where("barrier") + ": " + e.what());
    }
    return mpi_->Barrier();
  }

 private:
  cudaStream_t CurrentStream() const {
    return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream();
  }

  std::string Where(const char* call) const {
    return std::string(call) + " on rank " + std::to_string(rank()) + " of " +
           std::to_string(world_size()) + " (cuda:" + std::to_string(device_) + ")";
  }

  // Collectives run asynchronously: a failure in one that already returned (a peer died,
  // a network error) shows here, at the next call.
  Status CheckAsyncError(const char* call) {
    ncclResult_t async = ncclSuccess;
    FARM_RETURN_IF_ERROR(
        NcclStatus(ncclCommGetAsyncError(comm_, &async), Where("ncclCommGetAsyncError")));
    if (async != ncclSuccess) {
      failed_ = true;
      return NcclStatus(async, Where(call) + " (asynchronous error)");
    }
    return Status::Ok();
  }

  std::unique_ptr<MpiCollective> mpi_;  // destroyed after comm_ (declared first)
  int device_;
  ncclComm_t comm_;
  bool failed_ = false;
};

// This rank's index among the ranks on its host, so that ranks on one host take
// different GPUs without reading launcher-specific variables.
StatusOr<int> LocalRank(const MpiCollective& mpi) {
  MPI_Comm node = MPI_COMM_NULL;
  FARM_RETURN_IF_ERROR(MpiStatus(
      MPI_Comm_split_type(mpi.comm(), MPI_COMM_TYPE_SHARED, mpi.rank(), MPI_INFO_NULL, &node),
      "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)"));
  int local_rank = 0;
  const Status status = MpiStatus(MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank(node)");
  MPI_Comm_free(&node);
  FARM_RETURN_IF_ERROR(status);
  return local_rank;
}

// Rank 0 makes the id; every rank receives it with rank 0's success flag, so a failure on
// rank 0 fails every rank instead of leaving them waiting in ncclCommInitRank.
StatusOr<ncclUniqueId> ShareUniqueId(const MpiCollective& mpi) {
  struct {
    ncclUniqueId id;
    int made;  // 1 when rank 0 made the id
  } message;
  std::memset(&message, 0, sizeof(message));
  Status made = Status::Ok();
  if (mpi.rank() == 0) {
    made = NcclStatus(ncclGetUniqueId(&message.id), "ncclGetUniqueId on rank 0");
    message.made = made.ok() ? 1 : 0;
  }
  FARM_RETURN_IF_ERROR(MpiStatus(
      MPI_Bcast(&message, static_cast<int>(sizeof(message)), MPI_BYTE, 0, mpi.comm()),
      "MPI_Bcast of the NCCL unique id"));
  FARM_RETURN_IF_ERROR(made);
  if (message.made != 1) {
    return Unavailable("rank 0 could not make the NCCL unique id (see rank 0's error)");
  }
  return message.id;
}

}  // namespace

int VisibleCudaDevices() { return static_cast<int>(c10::cuda::device_count()); }

StatusOr<std::unique_ptr<Collective>> MakeNcclCollective() {
  const int devices = VisibleCudaDevices();
  if (devices <= 0) {
    return Unavailable("nccl backend: no CUDA device is visible to this process");
  }
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<MpiCollective> mpi, MpiCollective::Create());
  FARM_ASSIGN_OR_RETURN(const int local_rank, LocalRank(*mpi));
  const int device = local_rank % devices;
  try {
    // NCCL binds a communicator to the current device (ncclCommInitRank's contract).
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
  } catch (const std::exception& e) {
    return Unavailable("nccl backend: cannot select cuda:" + std::to_string(device) +
                       " on rank " + std::to_string(mpi->rank()) + ": " + e.what());
  }
  FARM_ASSIGN_OR_RETURN(const ncclUniqueId id, ShareUniqueId(*mpi));
  ncclComm_t comm = nullptr;
  FARM_RETURN_IF_ERROR(NcclStatus(ncclCommInitRank(&comm, mpi->world_size(), id, mpi->rank()),
                                  "ncclCommInitRank on rank " + std::to_string(mpi->rank()) +
                                      " (cuda:" + std::to_string(device) + ")"));
  return std::unique_ptr<Collective>(
      std::make_unique<NcclCollective>(std::move(mpi), device, comm));
}

}  // namespace farm::agent

#endif  // FARM_HAVE_NCCL
