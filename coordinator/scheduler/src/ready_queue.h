// Runnable jobs waiting for slots, grouped by requirement class.
//
// A class is the set of jobs with identical placement requirements (kind, device, memory,
// models, gang size, excluded agents): if the first job of a class cannot be placed, no
// job of that class can, so a scheduling round skips the whole class at once. Inside a
// class jobs are ordered by (priority desc, submission asc); the classes themselves are
// kept in an ordered set of their first jobs, which gives the global order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "farm/scheduler/specs.h"
#include "farm/scheduler/types.h"

namespace farm::scheduler {

// Position in the global queue order. Unique per job (seq is).
struct QueueKey {
  int priority = 0;
  std::uint64_t seq = 0;
  JobId job = 0;
};
// Higher priority first, then lower submission number.
bool operator<(const QueueKey& a, const QueueKey& b);

struct ClassKey {
  JobKind kind = JobKind::kSynthetic;
  std::optional<DeviceKind> device;
  std::uint64_t min_memory = 0;
  std::vector<std::string> models;  // sorted, unique
  int gang_size = 1;
  std::vector<int> excluded;  // agent handles, sorted
  bool operator==(const ClassKey&) const = default;
};

struct ClassKeyHash {
  std::size_t operator()(const ClassKey& key) const;
};

class ReadyQueue {
 public:
  // The first job of a non-empty class.
  struct Head {
    QueueKey key;
    int class_id = 0;
  };
  struct HeadLess {
    bool operator()(const Head& a, const Head& b) const { return a.key < b.key; }
  };
  using HeadSet = std::set<Head, HeadLess>;

  // The class of jobs with this spec and exclusions; created on first use. O(m).
  int ClassFor(const JobSpec& spec, const std::vector<int>& excluded);
  const ClassKey& Key(int class_id) const { return classes_[class_id].key; }

  // O(log n + log C).
  void Push(int class_id, const QueueKey& key);
  void Erase(int class_id, const QueueKey& key);

  // Ordered by each class's first job; a round walks this with lower/upper_bound.
  const HeadSet& heads() const { return heads_; }
  // The jobs of a class in queue order.
  const std::set<QueueKey>& Jobs(int class_id) const { return classes_[class_id].jobs; }
  std::size_t size() const { return size_; }

 private:
  struct JobClass {
    ClassKey key;
    std::set<QueueKey> jobs;
  };

  std::vector<JobClass> classes_;
  std::unordered_map<ClassKey, int, ClassKeyHash> ids_;
  HeadSet heads_;
  std::size_t size_ = 0;
};

}  // namespace farm::scheduler
