// The Collective of a one-process run: world size 1, rank 0, no MPI. Every collective is
// a local no-op that is still checked and counted, so a one-rank run exercises the same
// calls (and proves the same one-all-reduce-per-step count) as a multi-rank one.
#pragma once

#include "farm/agent/collective.h"

namespace farm::agent {

class SingleCollective final : public Collective {
 public:
  SingleCollective() = default;

  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string_view backend() const override { return "single"; }

 protected:
  Status DoAllReduceMean(const at::Tensor& flat) override;
  Status DoBroadcast(const at::Tensor& tensor, int root) override;
  StatusOr<std::vector<uint64_t>> DoAllGatherU64(uint64_t value) override;
  Status DoBarrier() override;
};

}  // namespace farm::agent
