// The routes behind farmd's dashboard (api.h lists them): its static app shell, the
// render queries and images it shows, and the sweep priority action. HandleApiRequest
// dispatches here; everything but the app shell runs after the token check.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "farm/farmd/api.h"
#include "farm/farmd/coordinator.h"

namespace farm::farmd {

using QueryParams = std::map<std::string, std::string>;

// GET "/", "/dashboard", "/dashboard/" (index.html) and "/dashboard/<file>";
// nullopt for every other path. The shell holds no data, so no token is needed.
std::optional<ApiResponse> ServeDashboardAsset(const std::string& method, const std::string& path);

// GET /api/v1/renders, /api/v1/renders/{id} and /api/v1/renders/{id}/image; `parts` is the
// split path ("api", "v1", "renders", ...). Loop thread.
ApiResponse HandleRenders(Coordinator& coordinator, const ApiRequest& request,
                          const std::vector<std::string>& parts, const QueryParams& query);

// POST /api/v1/sweeps/{id}/priority with {"priority": N}.
ApiResponse SetSweepPriority(Coordinator& coordinator, std::int64_t sweep_id,
                             const ApiRequest& request);

// {"error": {"code", "message"}} answers shared by these routes.
ApiResponse ApiErrorResponse(int status, const std::string& code, const std::string& message);
ApiResponse ApiErrorFromStatus(const Status& status);

}  // namespace farm::farmd
