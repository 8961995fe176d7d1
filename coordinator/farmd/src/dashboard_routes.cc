// The dashboard's app shell (embedded files) and its sweep priority action.
#include "dashboard_routes.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "dashboard_assets.h"

namespace farm::farmd {

ApiResponse ApiErrorResponse(int status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return {status, "application/json", body.dump()};
}

ApiResponse ApiErrorFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ApiErrorResponse(400, "invalid_argument", status.message());
    case StatusCode::kNotFound:
      return ApiErrorResponse(404, "not_found", status.message());
    case StatusCode::kFailedPrecondition:
      return ApiErrorResponse(409, "failed_precondition", status.message());
    case StatusCode::kUnavailable:
      return ApiErrorResponse(503, "unavailable", status.message());
    default:
      return ApiErrorResponse(500, StatusCodeName(status.code()), status.message());
  }
}

std::optional<ApiResponse> ServeDashboardAsset(const std::string& method, const std::string& path) {
  std::string name;
  if (path == "/" || path == "/dashboard" || path == "/dashboard/") {
    name = "index.html";
  } else if (path.rfind("/dashboard/", 0) == 0) {
    name = path.substr(std::string("/dashboard/").size());
  } else {
    return std::nullopt;
  }
  if (method != "GET") {
    return ApiErrorResponse(405, "method_not_allowed", "use GET");
  }
  // Exact names from the embedded table only: nothing is read from disk.
  for (const DashboardAsset& asset : DashboardAssets()) {
    if (asset.name == name) return ApiResponse{200, std::string(asset.content_type), std::string(asset.body)};
  }
  return ApiErrorResponse(404, "not_found", "no dashboard file '" + name + "'");
}

ApiResponse SetSweepPriority(Coordinator& coordinator, std::int64_t sweep_id,
                             const ApiRequest& request) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("priority") || !body["priority"].is_number_integer()) {
    return ApiErrorResponse(400, "invalid_argument",
                            "expected {\"priority\": <integer>} (higher runs first)");
  }
  const auto priority = body["priority"].get<std::int64_t>();
  constexpr std::int64_t kLimit = 1000000;  // far from int overflow in any arithmetic on it
  if (priority < -kLimit || priority > kLimit) {
    return ApiErrorResponse(400, "invalid_argument",
                            "priority " + std::to_string(priority) + " is outside -" +
                                std::to_string(kLimit) + ".." + std::to_string(kLimit));
  }
  if (Status status = coordinator.SetSweepPriority(sweep_id, static_cast<int>(priority));
      !status.ok()) {
    return ApiErrorFromStatus(status);
  }
  nlohmann::json answer = {{"sweep_id", sweep_id}, {"priority", priority}};
  return {200, "application/json", answer.dump()};
}

}  // namespace farm::farmd
