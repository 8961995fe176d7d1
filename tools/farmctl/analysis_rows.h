// Renders read into an analysis::ScoredTable for `farmctl compare` and `farmctl effects`:
// one render query (farm_query, bound values), parameter values as text, score and
// face_found per row. Reads the typed rows directly rather than through RowsToJson, so
// 100k renders load in a fraction of a second.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/analysis/scored_table.h"
#include "farm/query/render_query.h"
#include "farm/schemas/status.h"

namespace farm::store {
class Store;
}

namespace farmctl {

// The render parameters compare pairs on (query column names; size stands for width and
// height). engine is last: effects leaves it out by default (EffectsParameters), since
// reading it parses every render's params JSON (a third of the time over 100k renders)
// and it varies between evaluation sweeps, not within one.
const std::vector<std::string>& AnalysisParameters();
// AnalysisParameters() without engine: what `farmctl effects` analyses without --by.
std::vector<std::string> EffectsParameters();

struct AnalysisRows {
  farm::analysis::ScoredTable table;   // parameters as requested, in order
  std::vector<std::string> param_hashes;
};

// `query` with its columns replaced by `parameters` + faces and `metric` (a numeric
// column: "score" or "euclidean"), in id order. A refusal is the query library's text
// (expression, caret, suggestion): callers print it and exit 2.
farm::StatusOr<farm::query::BuiltQuery> BuildAnalysisQuery(farm::query::RenderQuery query,
                                                           const std::vector<std::string>& parameters,
                                                           const std::string& metric);

// Runs a BuildAnalysisQuery result and reads its rows.
farm::StatusOr<AnalysisRows> LoadAnalysisRows(farm::store::Store& store, const farm::query::BuiltQuery& built,
                                              const std::vector<std::string>& parameters,
                                              const std::string& metric);

}  // namespace farmctl
