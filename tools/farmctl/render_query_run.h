// Runs a render query (farm_query) on the store and hands back the rows as JSON objects,
// telling a bad expression (the user's mistake: exit 2) from a failed read (exit 1).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli_common.h"
#include "farm/query/render_query.h"

namespace farm::store {
class Store;
}

namespace farmctl {

struct RenderRows {
  farm::query::BuiltQuery built;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();  // RowsToJson
};

struct RenderRowsOrExit {
  RenderRows value;
  int exit_code = kExitOk;  // kExitUsage (message printed) or kExitFailure (reported)
};

// Builds and runs `query`. A query the library refuses is printed as the library wrote it
// (expression, caret, suggestion) on stderr: exit 2; a store failure goes through
// ReportError: exit 1.
RenderRowsOrExit RunRenderQuery(const GlobalOptions& options, farm::store::Store& store,
                                const farm::query::RenderQuery& query);

// Prints a refused query's message (stderr) and returns kExitUsage.
int ReportQueryError(const farm::Status& status);

}  // namespace farmctl
