#include "host_memory.h"

#include <cstdlib>

namespace farm::sd {

void LimitCpuKernelCaches() {
  // The last argument 0 keeps a value the user set.
  setenv("LRU_CACHE_CAPACITY", "1", 0);                // ideep computations (libtorch)
  setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0", 0);   // oneDNN primitives
}

}  // namespace farm::sd
