// The combinations a spec's grid stands for, as factors an odometer walks: lora_step
// (when training), then grid parameters in declaration order, a zip group as one factor
// at its first member's place, a dependent parameter choosing its row by its parent's
// current index. Counting and expansion both walk this, so they agree by construction.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "farm/sweep/spec.h"

namespace farm::sweep {

struct PlanFactor {
  std::vector<int> params;  // indices into GridPlan::names()
  int parent = -1;          // factor whose current index selects the row; -1: row 0
  // rows[parent index][value index][member]
  std::vector<std::vector<std::vector<GridValue>>> rows;
};

// One parameter's value per name index; nullptr for parameters not being walked.
using PointValues = std::vector<const GridValue*>;

class GridPlan {
 public:
  explicit GridPlan(const SweepSpec& spec);  // `spec` must be valid

  const std::vector<std::string>& names() const { return names_; }
  int IndexOf(const std::string& name) const;  // -1 when not swept
  const std::vector<PlanFactor>& factors() const { return factors_; }

  // Every value a parameter takes, in order of first appearance.
  std::vector<GridValue> ValuesOf(int param) const;

  // Walks every combination of the factors marked in `walk` (which must include the
  // parents of those it includes), last factor fastest. `index` is per factor.
  void Visit(const std::vector<bool>& walk,
             const std::function<void(const std::vector<std::size_t>& index,
                                      const PointValues& values)>& visit) const;

  // Whether an exclusion rule matches; every parameter a rule names must be set.
  bool Excluded(const PointValues& values) const;

  // Product of the largest row length of each marked factor, saturating at `limit`.
  std::uint64_t UpperBound(const std::vector<bool>& walk, std::uint64_t limit) const;

 private:
  std::vector<std::string> names_;
  std::vector<PlanFactor> factors_;
  // Exclusion rules with parameter indices.
  std::vector<std::vector<std::pair<int, std::vector<GridValue>>>> rules_;
};

}  // namespace farm::sweep
