// MPI's process-wide start and end, shared by every MPI-backed Collective.
//
// MPI may be initialised once per process and must be finalised before exit (mpirun
// reports a rank that exits without MPI_Finalize as failed). Acquire() initialises MPI on
// first use; the last handle to go finalises it. MPI started by someone else (a program
// that called MPI_Init itself) is used as it is and left running.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "farm/schemas/status.h"

namespace farm::agent {

class MpiRuntime {
 public:
  // Thread level: MPI_THREAD_FUNNELED (only the thread that made the Collective calls MPI;
  // libtorch's own threads never do).
  static StatusOr<std::shared_ptr<MpiRuntime>> Acquire();

  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

 private:
  explicit MpiRuntime(bool finalize_at_end) : finalize_at_end_(finalize_at_end) {}

  bool finalize_at_end_;
};

// Unavailable naming the MPI call, where it ran and MPI's own error text, or OK when
// `code` is MPI_SUCCESS. Needs MPI_ERRORS_RETURN on the communicator to ever see an error.
Status MpiStatus(int code, const std::string& what);

}  // namespace farm::agent
