// The MPI backend: CPU tensors over a private duplicate of MPI_COMM_WORLD, whose error
// handler returns errors (so every failure becomes a Status, never a silent abort).
#pragma once

#include <mpi.h>

#include <memory>

#include "farm/agent/collective.h"
#include "mpi_runtime.h"

namespace farm::agent {

class MpiCollective final : public Collective {
 public:
  // Initialises MPI if needed (MpiRuntime) and duplicates the world communicator.
  static StatusOr<std::unique_ptr<MpiCollective>> Create();
  ~MpiCollective() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string_view backend() const override { return "mpi"; }

  // The communicator, for backends built on this one (NCCL exchanges its id over it).
  MPI_Comm comm() const { return comm_; }

 protected:
  Status DoAllReduceMean(const at::Tensor& flat) override;
  Status DoBroadcast(const at::Tensor& tensor, int root) override;
  StatusOr<std::vector<uint64_t>> DoAllGatherU64(uint64_t value) override;
  Status DoBarrier() override;

 private:
  MpiCollective(std::shared_ptr<MpiRuntime> runtime, MPI_Comm comm, int rank, int world_size)
      : runtime_(std::move(runtime)), comm_(comm), rank_(rank), world_size_(world_size) {}

  std::string Where(const char* call) const;

  std::shared_ptr<MpiRuntime> runtime_;  // outlives comm_: freed in the destructor first
  MPI_Comm comm_;
  int rank_;
  int world_size_;
};

}  // namespace farm::agent
