#include "ready_queue.h"

#include <functional>
#include <utility>

namespace farm::scheduler {

bool operator<(const QueueKey& a, const QueueKey& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.seq < b.seq;
}

std::size_t ClassKeyHash::operator()(const ClassKey& key) const {
  std::size_t h = std::hash<int>()(static_cast<int>(key.kind));
  auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(key.device ? static_cast<std::size_t>(*key.device) + 1 : 0);
  mix(std::hash<std::uint64_t>()(key.min_memory));
  for (const std::string& model : key.models) mix(std::hash<std::string>()(model));
  mix(std::hash<int>()(key.gang_size));
  for (int agent : key.excluded) mix(std::hash<int>()(agent));
  return h;
}

int ReadyQueue::ClassFor(const JobSpec& spec, const std::vector<int>& excluded) {
  ClassKey key{spec.kind,      spec.device, spec.min_device_memory_bytes, spec.required_models,
               spec.gang_size, excluded};
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  const int id = static_cast<int>(classes_.size());
  classes_.push_back(JobClass{key, {}});
  ids_.emplace(std::move(key), id);
  return id;
}

void ReadyQueue::Push(int class_id, const QueueKey& key) {
  JobClass& c = classes_[class_id];
  const bool new_head = c.jobs.empty() || key < *c.jobs.begin();
  if (new_head && !c.jobs.empty()) heads_.erase(Head{*c.jobs.begin(), class_id});
  if (c.jobs.insert(key).second) ++size_;
  if (new_head) heads_.insert(Head{key, class_id});
}

void ReadyQueue::Erase(int class_id, const QueueKey& key) {
  JobClass& c = classes_[class_id];
  auto it = c.jobs.find(key);
  if (it == c.jobs.end()) return;
  const bool was_head = it == c.jobs.begin();
  if (was_head) heads_.erase(Head{key, class_id});
  c.jobs.erase(it);
  --size_;
  if (was_head && !c.jobs.empty()) heads_.insert(Head{*c.jobs.begin(), class_id});
}

}  // namespace farm::scheduler
