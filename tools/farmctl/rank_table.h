// A sweep's renders ranked by face-ID score against an identity, best first: cosine
// similarity descending (the default metric) or Euclidean distance ascending. Renders
// whose score is NULL (no usable face) come after the scored ones with the stored reason;
// renders without a score row come last ("not scored"). Where a render has scores of
// several descriptor model versions the newest row counts. Used by `farmctl rank` and at
// the end of `farmctl run`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/store/records.h"

namespace farm::store {
class Store;
}

namespace farmctl {

struct RankRequest {
  std::int64_t sweep_id = 0;
  std::string identity;  // empty: the only identity the sweep's scores name
  std::string metric = "cosine";
  int limit = 0;  // 0: every render
};

struct RankedRender {
  std::size_t render = 0;  // index into Ranking::renders
  const farm::store::Score* score = nullptr;  // into Ranking::scores; null: not scored
};

struct Ranking {
  std::int64_t sweep_id = 0;
  std::string sweep_name;
  std::string identity;  // empty when nothing is scored yet
  std::string metric;
  bool descending = true;
  std::size_t render_count = 0;  // before the limit
  std::vector<farm::store::Render> renders;
  std::vector<farm::store::Score> scores;
  std::vector<RankedRender> ranked;  // best first, at most `limit`
};

// InvalidArgument when the sweep's scores name several identities and none is given.
farm::StatusOr<Ranking> LoadRanking(farm::store::Store& store, const RankRequest& request);

// Rows {rank, render_id, param_hash, seed, sampler, cfg, clip_skip, pose, tone, loras
// [{ref, weight}], scored, similarity, faces, reason, model_version}.
nlohmann::ordered_json RankingRowsJson(const Ranking& ranking);

// A heading line and a table for a person.
void PrintRanking(std::ostream& out, const Ranking& ranking);

}  // namespace farmctl
