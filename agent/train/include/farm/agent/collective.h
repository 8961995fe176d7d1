// Collective communication between the ranks of one farm-train run.
//
// Training is data parallel: every rank computes the gradients of its shard, packs every
// LoRA gradient into one flat float32 buffer and calls AllReduceMean on it once per
// optimizer step (kohya issues one collective per tensor, 528 per step; we issue one).
// Backends: Single (one process, no MPI), MPI (CPU tensors) and NCCL (CUDA tensors; only
// in builds whose libtorch has CUDA and where NCCL was found at configure time).
//
// Contract shared by every backend (as MPI's own):
// - Every rank calls the same collectives in the same order with the same sizes, dtypes
//   and root. Arguments are checked before anything is sent, so a call that fails its
//   checks fails the same way on every rank that passed the same arguments; a rank that
//   passes different sizes than its peers is a bug in the caller and may hang or fail.
// - Not thread-safe: one thread (the one that made the Collective) issues every call.
// - Tensors are updated in place; their storage must stay alive for the call. The NCCL
//   backend enqueues on the current CUDA stream and returns before the data arrives, as
//   any CUDA kernel would; later work on that stream sees the result.
// - A non-OK Status from a collective leaves the run in an unknown state: the caller
//   stops the run (farm-train exits non-zero, and mpirun then ends every rank).
//
// MPI headers stay out of this file; only agent/train/src sees them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace at {
class Tensor;
}  // namespace at

namespace farm::agent {

// What a Collective has issued since it was made. Calls that fail their argument checks
// issue nothing and are not counted; a call that reaches the backend is counted even if
// the backend then fails. Tests and benchmarks read these to prove one all-reduce per step.
struct CollectiveCounters {
  uint64_t all_reduces = 0;
  uint64_t broadcasts = 0;
  uint64_t all_gathers = 0;
  uint64_t barriers = 0;
  uint64_t bytes_all_reduced = 0;  // this rank's buffer sizes, summed over all-reduces
  uint64_t bytes_broadcast = 0;

  uint64_t total() const { return all_reduces + broadcasts + all_gathers + barriers; }
};

class Collective {
 public:
  virtual ~Collective() = default;
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // "single", "mpi" or "nccl".
  virtual std::string_view backend() const = 0;
  // The CUDA device this rank's tensors must live on (the NCCL backend makes it the
  // current device); nullopt when tensors must be CPU tensors.
  virtual std::optional<int> cuda_device() const { return std::nullopt; }

  // In place: every element becomes the mean over ranks (sum, then divide by the world
  // size). `flat` must be a defined, contiguous float32 tensor on this backend's device.
  Status AllReduceMean(const at::Tensor& flat);
  // In place: every rank's `tensor` becomes a copy of rank `root`'s. Any dtype; contiguous,
  // on this backend's device, the same size on every rank.
  Status Broadcast(const at::Tensor& tensor, int root);
  // Every rank's `value`, indexed by rank (for weight checksums: equal iff in sync).
  StatusOr<std::vector<uint64_t>> AllGatherU64(uint64_t value);
  // Returns once every rank has called it; the NCCL backend first waits for its queued
  // collectives to finish.
  Status Barrier();

  const CollectiveCounters& counters() const { return counters_; }

 protected:
  Collective() = default;

  // Called with checked arguments; the counters are already updated.
  virtual Status DoAllReduceMean(const at::Tensor& flat) = 0;
  virtual Status DoBroadcast(const at::Tensor& tensor, int root) = 0;
  virtual StatusOr<std::vector<uint64_t>> DoAllGatherU64(uint64_t value) = 0;
  virtual Status DoBarrier() = 0;

 private:
  // InvalidArgument naming `op` and what was wrong, or OK.
  Status CheckTensor(const char* op, const at::Tensor& tensor, bool float32_only) const;

  CollectiveCounters counters_;
};

// How this process was started. Launchers set these variables in every rank they start:
// mpirun (OpenMPI) OMPI_COMM_WORLD_SIZE, srun with PMI-2 PMI_SIZE, with PMIx PMIX_RANK.
struct LaunchEnvironment {
  bool under_mpi_launcher = false;
  std::string launcher_variable;  // the variable that told us, for logs

  // Reads the process environment. Called by main(), not by the library.
  static LaunchEnvironment FromProcess();
  // `lookup` returns a variable's value or nullptr (tests pass a map).
  template <typename Lookup>
  static LaunchEnvironment FromLookup(Lookup&& lookup);
};

// backend:
//   "single"  one process, world size 1, no MPI.
//   "mpi"     MPI over MPI_COMM_WORLD (started alone: a world of one).
//   "nccl"    NCCL on this rank's GPU; FailedPrecondition in a build without NCCL,
//             Unavailable when no CUDA device is visible.
//   "auto"    not under a launcher: single; under one: nccl when built and a CUDA device
//             is visible, else mpi.
// MPI is initialised on first use and finalised when the last MPI-backed Collective is
// destroyed (MPI cannot start twice in one process: a later "mpi" then fails).
StatusOr<std::unique_ptr<Collective>> MakeCollective(std::string_view backend,
                                                     const LaunchEnvironment& launch);

// Whether this build has the NCCL backend (libtorch with CUDA and NCCL at configure time).
bool NcclBackendBuilt();

template <typename Lookup>
LaunchEnvironment LaunchEnvironment::FromLookup(Lookup&& lookup) {
  LaunchEnvironment env;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    const char* value = lookup(name);
    if (value != nullptr && value[0] != '\0') {
      env.under_mpi_launcher = true;
      env.launcher_variable = name;
      break;
    }
  }
  return env;
}

}  // namespace farm::agent
