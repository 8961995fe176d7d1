#include "dedup_index.h"

namespace farm::scheduler {

DedupIndex::Group* DedupIndex::Find(const std::string& param_hash) {
  auto it = groups_.find(param_hash);
  return it == groups_.end() ? nullptr : &it->second;
}

}  // namespace farm::scheduler
