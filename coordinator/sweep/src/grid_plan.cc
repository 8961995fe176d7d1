#include "grid_plan.h"

#include <algorithm>

namespace farm::sweep {

GridPlan::GridPlan(const SweepSpec& spec) {
  if (spec.train) {
    names_.push_back("lora_step");
    PlanFactor steps;
    steps.params = {0};
    steps.rows.emplace_back();
    for (int step : spec.train->steps) steps.rows[0].push_back({std::int64_t{step}});
    factors_.push_back(std::move(steps));
  }
  for (const GridParam& p : spec.grid) names_.push_back(p.name);

  std::vector<int> factor_of(names_.size(), -1);
  if (spec.train) factor_of[0] = 0;
  for (const GridParam& p : spec.grid) {
    int index = IndexOf(p.name);
    if (factor_of[index] >= 0) continue;  // placed with its zip group
    const std::vector<std::string>* group = nullptr;
    for (const auto& z : spec.zip) {
      if (std::find(z.begin(), z.end(), p.name) != z.end()) group = &z;
    }
    PlanFactor factor;
    if (!p.by.empty()) {
      factor.params = {index};
      factor.parent = factor_of[IndexOf(p.by)];
      for (const auto& list : p.values_by_parent) {
        auto& row = factor.rows.emplace_back();
        for (const GridValue& v : list) row.push_back({v});
      }
    } else {
      std::vector<const GridParam*> members = {&p};
      if (group != nullptr) {
        members.clear();
        for (const std::string& name : *group) {
          members.push_back(&*std::find_if(spec.grid.begin(), spec.grid.end(),
                                           [&](const GridParam& g) { return g.name == name; }));
        }
      }
      auto& row = factor.rows.emplace_back();
      for (std::size_t i = 0; i < p.values.size(); ++i) {
        std::vector<GridValue> tuple;
        for (const GridParam* m : members) tuple.push_back(m->values[i]);
        row.push_back(std::move(tuple));
      }
      for (const GridParam* m : members) factor.params.push_back(IndexOf(m->name));
    }
    for (int param : factor.params) factor_of[param] = static_cast<int>(factors_.size());
    factors_.push_back(std::move(factor));
  }
  for (const ExcludeRule& rule : spec.exclude) {
    auto& compiled = rules_.emplace_back();
    for (const auto& [name, values] : rule.match) compiled.emplace_back(IndexOf(name), values);
  }
}

int GridPlan::IndexOf(const std::string& name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  return it == names_.end() ? -1 : static_cast<int>(it - names_.begin());
}

std::vector<GridValue> GridPlan::ValuesOf(int param) const {
  std::vector<GridValue> values;
  for (const PlanFactor& f : factors_) {
    auto member = std::find(f.params.begin(), f.params.end(), param);
    if (member == f.params.end()) continue;
    std::size_t m = member - f.params.begin();
    for (const auto& row : f.rows) {
      for (const auto& tuple : row) {
        bool seen = std::any_of(values.begin(), values.end(),
                                [&](const GridValue& v) { return SameGridValue(v, tuple[m]); });
        if (!seen) values.push_back(tuple[m]);
      }
    }
  }
  return values;
}

void GridPlan::Visit(const std::vector<bool>& walk,
                     const std::function<void(const std::vector<std::size_t>& index,
                                              const PointValues& values)>& visit) const {
  std::vector<std::size_t> order;
  for (std::size_t f = 0; f < factors_.size(); ++f) {
    if (walk[f]) order.push_back(f);
  }
  std::vector<std::size_t> index(factors_.size(), 0);
  PointValues values(names_.size(), nullptr);
  auto row_of = [&](std::size_t f) -> const std::vector<std::vector<GridValue>>& {
    const PlanFactor& factor = factors_[f];
    return factor.rows[factor.parent < 0 ? 0 : index[factor.parent]];
  };
  while (true) {
    for (std::size_t f : order) {
      const std::vector<GridValue>& tuple = row_of(f)[index[f]];
      for (std::size_t m = 0; m < tuple.size(); ++m) values[factors_[f].params[m]] = &tuple[m];
    }
    visit(index, values);
    std::size_t k = order.size();
    while (k > 0) {
      std::size_t f = order[k - 1];
      if (++index[f] < row_of(f).size()) break;
      index[f] = 0;
      --k;
    }
    if (k == 0) return;
  }
}

bool GridPlan::Excluded(const PointValues& values) const {
  for (const auto& rule : rules_) {
    bool all = std::all_of(rule.begin(), rule.end(), [&](const auto& match) {
      const GridValue* v = values[match.first];
      return std::any_of(match.second.begin(), match.second.end(),
                         [&](const GridValue& m) { return SameGridValue(m, *v); });
    });
    if (all) return true;
  }
  return false;
}

std::uint64_t GridPlan::UpperBound(const std::vector<bool>& walk, std::uint64_t limit) const {
  std::uint64_t product = 1;
  for (std::size_t f = 0; f < factors_.size(); ++f) {
    if (!walk[f]) continue;
    std::size_t longest = 0;
    for (const auto& row : factors_[f].rows) longest = std::max(longest, row.size());
    if (longest != 0 && product > limit / longest) return limit;
    product *= longest;
  }
  return product;
}

}  // namespace farm::sweep
