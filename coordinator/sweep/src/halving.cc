#include "farm/sweep/halving.h"

#include <algorithm>
#include <cmath>

namespace farm::sweep {
namespace {

bool HigherIsBetter(std::string_view metric) { return metric != "euclidean"; }

std::string SeedsText(const std::map<std::uint64_t, std::optional<double>>& scores) {
  std::string text;
  for (const auto& [seed, score] : scores) {
    text += (text.empty() ? "" : ", ") + std::to_string(seed);
  }
  return "[" + text + "]";
}

// The rung whose seeds a cell holds: its seeds must be the first seeds_per_rung[r] seeds.
std::optional<int> RungOf(const SearchPlan& plan, const CellScores& cell) {
  const auto& rungs = plan.search.seeds_per_rung;
  for (std::size_t r = 0; r < rungs.size(); ++r) {
    const auto n = static_cast<std::size_t>(rungs[r]);
    if (cell.scores.size() != n || n > plan.seeds.size()) continue;
    bool prefix = std::all_of(plan.seeds.begin(), plan.seeds.begin() + static_cast<std::ptrdiff_t>(n),
                              [&](std::uint64_t seed) { return cell.scores.contains(seed); });
    if (prefix) return static_cast<int>(r);
  }
  return std::nullopt;
}

}  // namespace

std::int64_t CellsKept(std::int64_t cells, double keep) {
  if (cells <= 0) return 0;
  const double share = std::round(keep * static_cast<double>(cells) * 1e9) / 1e9;
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(share)), 1, cells);
}

std::vector<std::int64_t> CellsPerRung(std::int64_t cells, const SearchSpec& search) {
  std::vector<std::int64_t> out;
  for (std::size_t r = 0; r < search.seeds_per_rung.size(); ++r) {
    out.push_back(r == 0 ? cells : CellsKept(out.back(), search.keep));
  }
  return out;
}

std::int64_t RendersOverRungs(const std::vector<std::int64_t>& cells, const SearchSpec& search) {
  std::int64_t renders = 0;
  for (std::size_t r = 0; r < cells.size() && r < search.seeds_per_rung.size(); ++r) {
    const std::int64_t before = r == 0 ? 0 : search.seeds_per_rung[r - 1];
    renders += cells[r] * (search.seeds_per_rung[r] - before);
  }
  return renders;
}

double WorstScore(std::string_view metric, const std::vector<CellScores>& cells) {
  if (HigherIsBetter(metric)) return -1.0;
  double worst = 2.0;
  for (const CellScores& cell : cells) {
    for (const auto& [seed, score] : cell.scores) {
      if (score && std::isfinite(*score)) worst = std::max(worst, *score);
    }
  }
  return worst;
}

std::vector<RankedCell> RankCells(const std::vector<CellScores>& cells,
                                  const std::vector<std::size_t>& which,
                                  const std::vector<std::uint64_t>& seeds,
                                  std::string_view metric) {
  const double worst = WorstScore(metric, cells);
  std::vector<RankedCell> ranked;
  for (std::size_t index : which) {
    RankedCell out;
    out.cell = index;
    double sum = 0;
    for (std::uint64_t seed : seeds) {
      auto it = cells[index].scores.find(seed);
      if (it != cells[index].scores.end() && it->second && std::isfinite(*it->second)) {
        sum += *it->second;
      } else {
        sum += worst;
        ++out.missing;
      }
    }
    out.mean = seeds.empty() ? worst : sum / static_cast<double>(seeds.size());
    ranked.push_back(out);
  }
  const bool higher = HigherIsBetter(metric);
  std::sort(ranked.begin(), ranked.end(), [&](const RankedCell& a, const RankedCell& b) {
    if (a.mean != b.mean) return higher ? a.mean > b.mean : a.mean < b.mean;
    return cells[a.cell].key < cells[b.cell].key;
  });
  return ranked;
}

StatusOr<RungDecision> DecideRung(const SearchPlan& plan, const std::vector<CellScores>& cells) {
  if (cells.empty()) return InvalidArgument("a search without cells has no rung to decide");
  const auto& rungs = plan.search.seeds_per_rung;
  if (rungs.empty() || rungs.back() > static_cast<std::int64_t>(plan.seeds.size())) {
    return InvalidArgument("search plan with " + std::to_string(rungs.size()) + " rungs over " +
                           std::to_string(plan.seeds.size()) +
                           " seeds; expected rungs of at most that many seeds");
  }
  RungDecision decision;
  decision.rung = -1;
  std::vector<int> rung_of(cells.size());
  for (std::size_t c = 0; c < cells.size(); ++c) {
    std::optional<int> rung = RungOf(plan, cells[c]);
    if (!rung) {
      return FailedPrecondition("cell " + cells[c].key + " has renders for seeds " +
                                SeedsText(cells[c].scores) +
                                ", which are not the first seeds of any rung of the search (" +
                                DescribeSearch(plan.search) + ")");
    }
    rung_of[c] = *rung;
    decision.rung = std::max(decision.rung, *rung);
  }
  for (std::size_t c = 0; c < cells.size(); ++c) {
    if (rung_of[c] == decision.rung) decision.in_rung.push_back(c);
  }
  const std::vector<std::uint64_t> seeds(plan.seeds.begin(),
                                         plan.seeds.begin() + rungs[decision.rung]);
  decision.ranking = RankCells(cells, decision.in_rung, seeds, plan.search.metric);
  decision.last = decision.rung + 1 == static_cast<int>(rungs.size());
  if (decision.last) return decision;
  const std::int64_t kept =
      CellsKept(static_cast<std::int64_t>(decision.in_rung.size()), plan.search.keep);
  for (std::int64_t i = 0; i < kept; ++i) decision.survivors.push_back(decision.ranking[i].cell);
  decision.new_seeds.assign(plan.seeds.begin() + rungs[decision.rung],
                            plan.seeds.begin() + rungs[decision.rung + 1]);
  return decision;
}

}  // namespace farm::sweep
