#include "farm/analysis/compare.h"

#include <cmath>
#include <string_view>
#include <unordered_map>

#include "farm/analysis/scored_table.h"

namespace farm::analysis {
namespace {

std::vector<double> Scored(const std::vector<double>& scores) {
  std::vector<double> out;
  out.reserve(scores.size());
  for (double s : scores) {
    if (!std::isnan(s)) out.push_back(s);
  }
  return out;
}

// key -> row index, or -1 when the key repeats on this side.
std::unordered_map<std::string_view, long long> UniqueKeys(std::span<const std::string> keys) {
  std::unordered_map<std::string_view, long long> out;
  out.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto [it, inserted] = out.emplace(keys[i], static_cast<long long>(i));
    if (!inserted) it->second = -1;
  }
  return out;
}

}  // namespace

Pairing PairByKey(std::span<const std::string> a_keys, std::span<const std::string> b_keys) {
  Pairing out;
  const auto b_index = UniqueKeys(b_keys);
  const auto a_index = UniqueKeys(a_keys);
  for (std::size_t i = 0; i < a_keys.size(); ++i) {
    if (a_index.at(a_keys[i]) < 0) continue;
    auto it = b_index.find(a_keys[i]);
    if (it == b_index.end() || it->second < 0) continue;
    out.pairs.emplace_back(i, static_cast<std::size_t>(it->second));
  }
  out.unpaired_a = a_keys.size() - out.pairs.size();
  out.unpaired_b = b_keys.size() - out.pairs.size();
  return out;
}

SideSummary Summarise(const CompareSide& side, const BootstrapOptions& options) {
  SideSummary out;
  out.renders = side.scores.size();
  out.score = BootstrapMean(Scored(side.scores), options);
  std::size_t faces = 0;
  std::size_t known = 0;
  for (signed char f : side.face_found) {
    if (f == kFaceUnknown) continue;
    ++known;
    if (f == kFace) ++faces;
  }
  out.face_found = MakeProportion(faces, known, options.level);
  return out;
}

Comparison Compare(const CompareSide& a, const CompareSide& b, const BootstrapOptions& options) {
  Comparison out;
  out.a = Summarise(a, options);
  out.b = Summarise(b, options);
  out.delta = BootstrapDelta(Scored(a.scores), Scored(b.scores), options);
  if (a.pair_keys.empty() || b.pair_keys.empty()) return out;
  const Pairing pairing = PairByKey(a.pair_keys, b.pair_keys);
  PairedSummary paired;
  paired.unpaired_a = pairing.unpaired_a;
  paired.unpaired_b = pairing.unpaired_b;
  std::vector<double> differences;
  differences.reserve(pairing.pairs.size());
  for (auto [i, j] : pairing.pairs) {
    if (std::isnan(a.scores[i]) || std::isnan(b.scores[j])) {
      ++paired.unscored_pairs;
      continue;
    }
    differences.push_back(b.scores[j] - a.scores[i]);
  }
  if (differences.empty()) return out;
  paired.pairs = differences.size();
  paired.diff = PairedDelta(differences, options);
  out.paired = paired;
  return out;
}

}  // namespace farm::analysis
