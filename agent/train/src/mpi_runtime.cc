#include "mpi_runtime.h"

#include <mutex>

namespace farm::agent {

namespace {

std::mutex runtime_mutex;
std::weak_ptr<MpiRuntime> runtime_instance;  // guarded by runtime_mutex

}  // namespace

Status MpiStatus(int code, const std::string& what) {
  if (code == MPI_SUCCESS) return Status::Ok();
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return Unavailable(what + " failed with MPI error code " + std::to_string(code));
  }
  return Unavailable(what + " failed: " + std::string(text, length) + " (MPI error code " +
                     std::to_string(code) + ")");
}

StatusOr<std::shared_ptr<MpiRuntime>> MpiRuntime::Acquire() {
  std::lock_guard<std::mutex> lock(runtime_mutex);
  if (auto existing = runtime_instance.lock()) return existing;

  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    return FailedPrecondition(
        "MPI was already finalised in this process and cannot be started again (MPI "
        "standard): keep one MPI-backed Collective for the whole run");
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  bool we_initialized = false;
  if (!initialized) {
    int provided = 0;
    // Errors here are fatal by the MPI standard (no error handler exists yet).
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (code != MPI_SUCCESS) return MpiStatus(code, "MPI_Init_thread");
    we_initialized = true;
    // From here MPI calls on the world communicator return their errors instead of
    // aborting every rank (the default handler, MPI_ERRORS_ARE_FATAL).
    FARM_RETURN_IF_ERROR(MpiStatus(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                                   "MPI_Comm_set_errhandler(MPI_COMM_WORLD)"));
  }
  int provided = 0;
  FARM_RETURN_IF_ERROR(MpiStatus(MPI_Query_thread(&provided), "MPI_Query_thread"));
  std::shared_ptr<MpiRuntime> runtime(new MpiRuntime(we_initialized));
  if (provided < MPI_THREAD_FUNNELED) {
    return FailedPrecondition("MPI provides thread level " + std::to_string(provided) +
                              ", farm_collective needs at least MPI_THREAD_FUNNELED (" +
                              std::to_string(MPI_THREAD_FUNNELED) + ")");
  }
  runtime_instance = runtime;
  return runtime;
}

MpiRuntime::~MpiRuntime() {
  if (!finalize_at_end_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace farm::agent
