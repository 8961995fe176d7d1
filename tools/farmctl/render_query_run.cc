#include "render_query_run.h"

#include <iostream>

#include "farm/store/store.h"

namespace farmctl {

int ReportQueryError(const farm::Status& status) {
  std::cerr << "farmctl: " << status.message() << "\n";
  return kExitUsage;
}

RenderRowsOrExit RunRenderQuery(const GlobalOptions& options, farm::store::Store& store,
                                const farm::query::RenderQuery& query) {
  RenderRowsOrExit out;
  farm::StatusOr<farm::query::BuiltQuery> built = farm::query::BuildRenderQuery(query);
  if (!built.ok()) {
    out.exit_code = ReportQueryError(built.status());
    return out;
  }
  farm::StatusOr<farm::store::SelectResult> result = store.Select(built->sql, built->binds);
  if (!result.ok()) {
    out.exit_code = ReportError(options, result.status().WithContext("render query"));
    return out;
  }
  out.value.rows = farm::query::RowsToJson(*built, *result);
  out.value.built = std::move(*built);
  return out;
}

}  // namespace farmctl
