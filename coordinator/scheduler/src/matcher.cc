#include "matcher.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>

namespace farm::scheduler {
namespace {

constexpr DeviceKind kAnyDeviceOrder[] = {DeviceKind::kCpu, DeviceKind::kCuda};

// Collects ranks for one request over the allowed device kinds.
class PlacementSearch {
 public:
  PlacementSearch(const AgentTable& agents, const ClassKey& req, bool may_use_reserved)
      : agents_(agents), req_(req), may_use_reserved_(may_use_reserved) {}

  std::vector<int> Run(const std::vector<DeviceKind>& kinds) {
    picks_.clear();
    need_ = req_.gang_size;
    if (!req_.models.empty()) SearchCached(kinds);
    for (DeviceKind kind : kinds) {
      if (need_ > 0) SearchByMemory(kind);
    }
    if (need_ > 0) picks_.clear();
    return picks_;
  }

 private:
  bool Allowed(DeviceKind kind, const std::vector<DeviceKind>& kinds) const {
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  }

  bool Picked(int handle) const {
    return std::find(picks_.begin(), picks_.end(), handle) != picks_.end();
  }

  void Take(const AgentRecord& agent) {
    const int n = std::min(UsableSlots(agent, may_use_reserved_), need_);
    for (int i = 0; i < n; ++i) picks_.push_back(agent.handle);
    need_ -= n;
  }

  // Tier 1: agents caching every required model, found through the rarest model's index.
  void SearchCached(const std::vector<DeviceKind>& kinds) {
    const std::set<int>* rarest = nullptr;
    for (const std::string& model : req_.models) {
      const std::set<int>* holders = agents_.FreeWithModel(model);
      if (holders == nullptr || holders->empty()) return;
      if (rarest == nullptr || holders->size() < rarest->size()) rarest = holders;
    }
    for (int handle : *rarest) {
      const AgentRecord& agent = agents_.Get(handle);
      if (!Allowed(agent.device, kinds) || !Eligible(agent, req_)) continue;
      if (!agent.Caches(req_.models) || UsableSlots(agent, may_use_reserved_) == 0) continue;
      Take(agent);
      if (need_ == 0) return;
    }
  }

  // Tier 2: best fit by memory among the free agents of one device kind.
  void SearchByMemory(DeviceKind kind) {
    const auto& free = agents_.FreeByDevice(kind);
    for (auto it = free.lower_bound({req_.min_memory, std::numeric_limits<int>::min()});
         it != free.end() && need_ > 0; ++it) {
      const AgentRecord& agent = agents_.Get(it->second);
      if (Picked(agent.handle) || !Eligible(agent, req_)) continue;
      if (UsableSlots(agent, may_use_reserved_) == 0) continue;
      Take(agent);
    }
  }

  const AgentTable& agents_;
  const ClassKey& req_;
  const bool may_use_reserved_;
  std::vector<int> picks_;
  int need_ = 0;
};

}  // namespace

bool Eligible(const AgentRecord& agent, const ClassKey& req) {
  if (agent.state != AgentState::kOnline) return false;
  if (req.device && agent.device != *req.device) return false;
  if (agent.memory < req.min_memory || !agent.Runs(req.kind)) return false;
  if (std::binary_search(req.excluded.begin(), req.excluded.end(), agent.handle)) return false;
  return agent.can_fetch_models || agent.Caches(req.models);
}

int UsableSlots(const AgentRecord& agent, bool may_use_reserved) {
  const int usable = agent.free_slots - (may_use_reserved ? 0 : agent.reserved_slots);
  return std::max(usable, 0);
}

std::vector<int> FindPlacement(const AgentTable& agents, const ClassKey& req,
                               bool may_use_reserved) {
  PlacementSearch search(agents, req, may_use_reserved);
  if (req.device) return search.Run({*req.device});
  if (req.gang_size == 1) {
    return search.Run(
        std::vector<DeviceKind>(std::begin(kAnyDeviceOrder), std::end(kAnyDeviceOrder)));
  }
  // A gang's ranks must share a collective backend (NCCL or MPI): one kind at a time.
  for (DeviceKind kind : kAnyDeviceOrder) {
    std::vector<int> picks = search.Run({kind});
    if (!picks.empty()) return picks;
  }
  return {};
}

}  // namespace farm::scheduler
