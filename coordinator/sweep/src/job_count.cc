// CountJobs: the exact number of jobs, without building any record.
#include <set>

#include "farm/sweep/expand.h"
#include "grid_plan.h"
#include "train_groups.h"

namespace farm::sweep {
namespace {

// Past this many combinations of the parameters that exclusions or dependencies tie
// together, counting itself would be the explosion the cap guards against.
constexpr std::uint64_t kMaxCountWalk = 20'000'000;
constexpr std::uint64_t kSaturated = std::uint64_t{1} << 62;

std::uint64_t Multiply(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kSaturated / a) return kSaturated;
  return a * b;
}

bool HasZeroWeight(const GridPlan& plan, const SweepSpec& spec) {
  if (!spec.train) return false;
  int index = plan.IndexOf("lora_weight");
  std::vector<GridValue> values;
  if (index >= 0) {
    values = plan.ValuesOf(index);
  } else {
    values.push_back(spec.fixed.at("lora_weight"));
  }
  return std::any_of(values.begin(), values.end(),
                     [](const GridValue& v) { return SameGridValue(v, 0.0); });
}

}  // namespace

StatusOr<ExpansionCount> CountJobs(const SweepSpec& spec) {
  GridPlan plan(spec);
  const auto& factors = plan.factors();
  const bool collapse = HasZeroWeight(plan, spec);
  const int weight_param = plan.IndexOf("lora_weight");
  const int step_param = plan.IndexOf("lora_step");

  // Factors whose values matter jointly are walked; the rest only multiply.
  std::vector<bool> walk(factors.size(), false);
  std::set<std::string> excluded_names;
  for (const ExcludeRule& rule : spec.exclude) {
    for (const auto& [name, values] : rule.match) excluded_names.insert(name);
  }
  for (std::size_t f = 0; f < factors.size(); ++f) {
    for (int p : factors[f].params) {
      const std::string& name = plan.names()[p];
      if (excluded_names.contains(name) || (collapse && (p == weight_param || p == step_param))) {
        walk[f] = true;
      }
    }
    if (factors[f].parent >= 0) walk[f] = walk[factors[f].parent] = true;
  }
  if (plan.UpperBound(walk, kMaxCountWalk + 1) > kMaxCountWalk) {
    return InvalidArgument("the parameters tied together by exclude: and by: have more than " +
                           std::to_string(kMaxCountWalk) +
                           " combinations; expected a smaller grid");
  }

  std::uint64_t with_lora = 0;
  std::set<std::vector<std::size_t>> without_lora;  // collapsed: no lora_step, no group
  plan.Visit(walk, [&](const std::vector<std::size_t>& index, const PointValues& values) {
    if (plan.Excluded(values)) return;
    bool zero = collapse &&
                SameGridValue(
                    weight_param >= 0 ? *values[weight_param] : spec.fixed.at("lora_weight"), 0.0);
    if (!zero) {
      ++with_lora;
      return;
    }
    std::vector<std::size_t> key = index;
    if (step_param >= 0) key[0] = 0;  // lora_step is factor 0
    without_lora.insert(key);
  });
  std::uint64_t rest = 1;
  std::vector<bool> others(factors.size());
  for (std::size_t f = 0; f < factors.size(); ++f) others[f] = !walk[f];
  rest = plan.UpperBound(others, kSaturated);
  const std::uint64_t groups = spec.train ? TrainGroupCount(*spec.train) : 1;

  ExpansionCount count;
  std::uint64_t renders = Multiply(
      Multiply(Multiply(with_lora, groups) + without_lora.size(), rest), spec.seeds.size());
  count.render = static_cast<std::int64_t>(renders);
  count.train = spec.train && with_lora > 0 ? static_cast<std::int64_t>(groups) : 0;
  count.score = spec.score ? count.render : 0;

  for (std::size_t p = 0; p < plan.names().size(); ++p) {
    ParameterValues values{plan.names()[p], {}};
    for (const GridValue& v : plan.ValuesOf(static_cast<int>(p))) {
      values.values.push_back(GridValueText(v));
    }
    count.parameters.push_back(std::move(values));
  }
  ParameterValues seeds{"seed", {}};
  for (std::uint64_t seed : spec.seeds) seeds.values.push_back(std::to_string(seed));
  count.parameters.push_back(std::move(seeds));
  return count;
}

}  // namespace farm::sweep
