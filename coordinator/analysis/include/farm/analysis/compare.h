// Two sets of renders compared (issue 14 §2, `farmctl compare`; the nightly gate too):
// each side's mean score and face-found rate with intervals, the delta B - A with a
// bootstrap interval, and a paired comparison when renders match up by key.
// Pure math; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"

namespace farm::analysis {

// One side of a comparison. scores and face_found have one entry per render (NaN score:
// none; face_found: kFace / kNoFace / kFaceUnknown from scored_table.h). pair_keys is either
// empty (no pairing) or one key per render: renders with the same key on both sides are the
// "same render but for what is compared" (e.g. seed|pose|prompt, or param_hash).
struct CompareSide {
  std::vector<double> scores;
  std::vector<signed char> face_found;
  std::vector<std::string> pair_keys;
};

struct SideSummary {
  std::size_t renders = 0;
  MeanCi score;              // over renders with a score
  Proportion face_found;     // faces among scored renders (face_found not unknown)
};

// Index pairs (a index, b index) for keys present exactly once on each side. A key that
// appears more than once on a side is ambiguous: its renders count as unpaired.
struct Pairing {
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // ascending by a index
  std::size_t unpaired_a = 0;
  std::size_t unpaired_b = 0;
};
Pairing PairByKey(std::span<const std::string> a_keys, std::span<const std::string> b_keys);

struct PairedSummary {
  std::size_t pairs = 0;           // matched pairs with a score on both sides (diff.n)
  std::size_t unscored_pairs = 0;  // matched, but one side has no score
  std::size_t unpaired_a = 0;
  std::size_t unpaired_b = 0;
  MeanCi diff;                     // mean of b - a over the scored pairs
};

struct Comparison {
  SideSummary a;
  SideSummary b;
  DeltaCi delta;  // unpaired: mean(b) - mean(a), independent bootstrap of each side
  // Set when both sides carry pair_keys and at least one pair has a score on both sides.
  std::optional<PairedSummary> paired;
};

SideSummary Summarise(const CompareSide& side, const BootstrapOptions& options = {});
// A Wilson level follows options.level.
Comparison Compare(const CompareSide& a, const CompareSide& b, const BootstrapOptions& options = {});

}  // namespace farm::analysis
