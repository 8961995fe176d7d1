#include "farm/agent/model_cache.h"

namespace farm::agent {

ModelCache::ModelCache(std::uint64_t budget_bytes) : budget_bytes_(budget_bytes) {}

StatusOr<std::shared_ptr<void>> ModelCache::Get(const std::string& key,
                                                const std::function<StatusOr<CachedModel>()>& load,
                                                bool* hit) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key != key) continue;
      entries_.splice(entries_.begin(), entries_, it);
      ++stats_.hits;
      if (hit) *hit = true;
      return entries_.front().model.value;
    }
  }
  if (hit) *hit = false;
  StatusOr<CachedModel> loaded = load();
  if (!loaded.ok()) return loaded.status().WithContext("loading model '" + key + "'");
  if (!loaded->value) return Internal("loading model '" + key + "' gave nothing");
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.loads;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key != key) continue;  // loaded meanwhile by another job: keep the first
    entries_.splice(entries_.begin(), entries_, it);
    return entries_.front().model.value;
  }
  entries_.push_front(Entry{key, *loaded});
  used_bytes_ += loaded->cost_bytes;
  EvictLocked();
  return entries_.front().model.value;
}

void ModelCache::EvictLocked() {
  while (entries_.size() > 1 && used_bytes_ > budget_bytes_) {
    used_bytes_ -= entries_.back().model.cost_bytes;
    entries_.pop_back();
    ++stats_.evictions;
  }
}

std::vector<std::string> ModelCache::keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.key);
  return out;
}

std::uint64_t ModelCache::used_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_bytes_;
}

ModelCacheStats ModelCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace farm::agent
