// An LRU of loaded models (render engines) within a memory budget, shared by the jobs of
// one agent. Keys are strings (checkpoint sha256 + LoRA set); values are type-erased
// shared pointers so this library needs no libtorch.
//
// Get() returns the entry or calls `load` for it (outside the cache's lock, so other keys
// stay usable; two concurrent loads of the same key may both run, the first stored wins).
// After inserting, least recently used entries are evicted until the total cost fits the
// budget; the newest entry is never evicted, so one model larger than the budget still
// works (alone). An evicted entry still in use by a job stays alive through its shared_ptr.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::agent {

struct CachedModel {
  std::shared_ptr<void> value;
  std::uint64_t cost_bytes = 0;
};

struct ModelCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t loads = 0;
  std::uint64_t evictions = 0;
};

class ModelCache {
 public:
  // budget_bytes 0: keep only the most recently used entry.
  explicit ModelCache(std::uint64_t budget_bytes);

  // `hit` (optional) says whether the entry was already loaded.
  StatusOr<std::shared_ptr<void>> Get(const std::string& key,
                                      const std::function<StatusOr<CachedModel>()>& load,
                                      bool* hit = nullptr);

  // Keys, most recently used first.
  std::vector<std::string> keys() const;
  std::uint64_t used_bytes() const;
  ModelCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    CachedModel model;
  };
  void EvictLocked();

  const std::uint64_t budget_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // front: most recently used
  std::uint64_t used_bytes_ = 0;
  ModelCacheStats stats_;
};

}  // namespace farm::agent
