// CountJobs: the exact number of jobs, without building any record.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "farm/sweep/expand.h"
#include "farm/sweep/halving.h"
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
  if (!spec.train && spec.loras.empty()) return false;
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

// Numbers each parameter's distinct values (by SameGridValue), so that points that differ
// only in where an equal value sits in the plan (a zip group or a dependent's rows) get
// equal keys.
class ValueIds {
 public:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  explicit ValueIds(const GridPlan& plan) {
    std::vector<std::vector<const GridValue*>> distinct(plan.names().size());
    for (const PlanFactor& factor : plan.factors()) {
      for (const auto& row : factor.rows) {
        for (const auto& tuple : row) {
          for (std::size_t m = 0; m < tuple.size(); ++m) {
            auto& seen = distinct[factor.params[m]];
            auto it = std::find_if(seen.begin(), seen.end(),
                                   [&](const GridValue* v) { return SameGridValue(*v, tuple[m]); });
            ids_[&tuple[m]] = it - seen.begin();
            if (it == seen.end()) seen.push_back(&tuple[m]);
          }
        }
      }
    }
  }

  // A render without a LoRA is the same whichever step or file the LoRA would have been:
  // the point's values other than lora_step and lora (kNone where not walked) say which.
  std::vector<std::size_t> WithoutLoraKey(const PointValues& values, int step_param,
                                          int lora_param) const {
    std::vector<std::size_t> key(values.size(), kNone);
    for (std::size_t p = 0; p < values.size(); ++p) {
      bool lora_choice = static_cast<int>(p) == step_param || static_cast<int>(p) == lora_param;
      if (values[p] != nullptr && !lora_choice) key[p] = ids_.at(values[p]);
    }
    return key;
  }

 private:
  std::unordered_map<const GridValue*, std::size_t> ids_;
};

// CountJobs of a spec without search: (or of one rung's seeds).
StatusOr<ExpansionCount> CountGrid(const SweepSpec& spec) {
  GridPlan plan(spec);
  const auto& factors = plan.factors();
  const bool collapse = HasZeroWeight(plan, spec);
  const int weight_param = plan.IndexOf("lora_weight");
  const int step_param = plan.IndexOf("lora_step");
  const int lora_param = plan.IndexOf("lora");

  // Factors whose values matter jointly are walked; the rest only multiply.
  std::vector<bool> walk(factors.size(), false);
  std::set<std::string> excluded_names;
  for (const ExcludeRule& rule : spec.exclude) {
    for (const auto& [name, values] : rule.match) excluded_names.insert(name);
  }
  for (std::size_t f = 0; f < factors.size(); ++f) {
    for (int p : factors[f].params) {
      const std::string& name = plan.names()[p];
      bool lora_choice = p == weight_param || p == step_param || p == lora_param;
      if (excluded_names.contains(name) || (collapse && lora_choice)) {
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
  const ValueIds ids(plan);
  std::set<std::vector<std::size_t>> without_lora;  // collapsed: no lora_step, lora or group
  plan.Visit(walk, [&](const std::vector<std::size_t>&, const PointValues& values) {
    if (plan.Excluded(values)) return;
    bool zero = collapse &&
                SameGridValue(
                    weight_param >= 0 ? *values[weight_param] : spec.fixed.at("lora_weight"), 0.0);
    if (!zero) {
      ++with_lora;
      return;
    }
    without_lora.insert(ids.WithoutLoraKey(values, step_param, lora_param));
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
  count.train = spec.train && with_lora > 0
                    ? static_cast<std::int64_t>(groups * TrainJobsPerGroup(*spec.train))
                    : 0;
  // One prepare job per distinct dataset: the resolution is the only group setting in it.
  std::set<int> resolutions;
  if (count.train > 0) resolutions.insert(spec.train->resolution.begin(), spec.train->resolution.end());
  count.prepare = static_cast<std::int64_t>(resolutions.size());
  if (spec.train && StepsNeedOwnRuns(*spec.train) && spec.train->steps.size() > 1) {
    count.notes.push_back(
        "train.extra.lr_scheduler '" +
        std::get<std::string>(spec.train->extra.at("lr_scheduler")) +
        "' depends on the total steps, so the steps cannot share a run: one train job per "
        "step and training group (" + std::to_string(count.train) + " train jobs)");
  }
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

SweepSpec WithFirstSeeds(const SweepSpec& spec, std::int64_t n) {
  SweepSpec out = spec;
  out.search.reset();
  out.seeds.resize(std::min<std::size_t>(out.seeds.size(), static_cast<std::size_t>(n)));
  return out;
}

JobTotals Totals(const ExpansionCount& count) {
  return {count.prepare, count.train, count.render, count.score};
}

}  // namespace

StatusOr<ExpansionCount> CountJobs(const SweepSpec& spec) {
  if (!spec.search) return CountGrid(spec);
  const SearchSpec& search = *spec.search;
  FARM_ASSIGN_OR_RETURN(ExpansionCount first,
                        CountGrid(WithFirstSeeds(spec, search.seeds_per_rung.front())));
  FARM_ASSIGN_OR_RETURN(ExpansionCount full,
                        CountGrid(WithFirstSeeds(spec, search.seeds_per_rung.back())));
  FARM_ASSIGN_OR_RETURN(ExpansionCount one, CountGrid(WithFirstSeeds(spec, 1)));
  SearchCount counts;
  counts.cells = one.render;
  counts.cells_per_rung = CellsPerRung(counts.cells, search);
  counts.maximum = Totals(full);
  counts.expected = Totals(first);
  counts.expected.render = RendersOverRungs(counts.cells_per_rung, search);
  counts.expected.score = spec.score ? counts.expected.render : 0;
  // The seeds a user listed, not only the first rung's.
  first.parameters.back() = full.parameters.back();
  first.search = std::move(counts);
  return first;
}

}  // namespace farm::sweep
