// farmd's HTTP API as a pure function of a request, run on the loop thread (it touches
// the Scheduler and the Store). The Beast server (http_server.h) only parses, enforces
// the body limit and hands requests here through Coordinator::Post.
//
// Routes (JSON bodies and answers; errors are {"error": {"code", "message"}}):
//   GET  /healthz                     no token needed
//   GET  /, /dashboard/, /dashboard/{file}   the dashboard's app shell (docs/dashboard.md):
//                                     embedded static files, no data, no token needed
//   GET  /metrics                     Prometheus text
//   POST /api/v1/sweeps               body: spec YAML, or JSON {spec, file_name, synthetic,
//                                     rerender} (rerender: new jobs even for records
//                                     already rendered: a nightly evaluation)
//   GET  /api/v1/sweeps               newest first
//   GET  /api/v1/sweeps/{id}          the sweep with job counts by state, and "unrunnable":
//                                     {jobs, reasons: [{reason, jobs, first_job}]}: queued
//                                     jobs no online agent may take, grouped by reason
//   POST /api/v1/sweeps/{id}/cancel
//   POST /api/v1/sweeps/{id}/priority  body {"priority": N}: higher runs first; the sweep
//                                     and its unfinished jobs (queued ones reordered)
//   GET  /api/v1/jobs?sweep=ID&state=S&limit=N&after=ID   (a queued job no online agent
//                                     may take carries "waiting_reason")
//   POST /api/v1/jobs/{id}/cancel
//   GET  /api/v1/agents               with slots, busy_slots, drain_requested and "models"
//                                     (sha256 held)
//   POST /api/v1/agents/{id}/drain    no new work for the agent (it finishes its leases);
//   POST /api/v1/agents/{id}/resume   kept across reconnects and restarts until resumed;
//                                     answers {id, drain_requested, state, busy_slots}
//   GET  /api/v1/renders?where=EXPR&order_by=..&sweep=ID[,ID]&columns=a,b&limit=N&offset=N
//                                     render results through the query language of
//                                     `farmctl renders` (bound parameters); {columns,
//                                     renders, count, limit, truncated}; a bad expression
//                                     is 400 "invalid_query" with the caret message
//   GET  /api/v1/renders/{id}?sweep=S  one render: every column, params, results by sweep,
//                                     stage names, reproduce line
//   GET  /api/v1/renders/{id}/image?sweep=S|stage=NAME   the image bytes (artifact root)
// 401 without "Authorization: Bearer <token>" matching a configured token (when any is
// set), 403 for a read token on a route that is not GET (api_tokens.h), 400 for malformed
// JSON or parameters, 404 for unknown routes or ids, 405 for a wrong method.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "farm/farmd/api_tokens.h"
#include "farm/farmd/coordinator.h"
#include "farm/sweep/presets.h"

namespace farm::farmd {

struct ApiOptions {
  // Bearer tokens (SHA-256 only) every route but /healthz and the dashboard shell
  // requires. Empty: no authentication (only for tests and loopback-only setups).
  std::vector<ApiToken> tokens;
  // What submitted specs may refer to: presets by name, relative paths (to spec_dir) and
  // "models:/" paths (to models_dir).
  sweep::SpecPresets presets;
  std::string spec_dir = ".";
  std::string models_dir;
  // Defaults for submissions that do not say (the JSON body's "synthetic" overrides).
  SubmitOptions submit;
  // More Prometheus text appended to /metrics (the HTTP listener's own counters); called
  // on the loop thread, so it reads only thread-safe state.
  std::function<std::string()> extra_metrics;
};

struct ApiRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path with query string
  std::string authorization;  // the Authorization header, may be empty
  std::string content_type;
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Loop thread only.
ApiResponse HandleApiRequest(Coordinator& coordinator, const ApiOptions& options,
                             const ApiRequest& request);

}  // namespace farm::farmd
