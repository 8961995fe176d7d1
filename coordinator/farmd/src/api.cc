// HTTP API routing and JSON (loop thread). See api.h for the routes.
#include "farm/farmd/api.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "adaptive_search.h"
#include "dashboard_routes.h"
#include "farm/sweep/file_resolver.h"

namespace farm::farmd {
namespace {
using nlohmann::json;

ApiResponse Json(int status, const json& body) { return {status, "application/json", body.dump()}; }

ApiResponse Error(int status, const std::string& code, const std::string& message) {
  return Json(status, {{"error", {{"code", code}, {"message", message}}}});
}

ApiResponse FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return Error(400, "invalid_argument", status.message());
    case StatusCode::kNotFound:
      return Error(404, "not_found", status.message());
    case StatusCode::kAlreadyExists:
      return Error(409, "already_exists", status.message());
    case StatusCode::kFailedPrecondition:
      return Error(409, "failed_precondition", status.message());
    case StatusCode::kUnavailable:
      return Error(503, "unavailable", status.message());
    default:
      return Error(500, StatusCodeName(status.code()), status.message());
  }
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      int value = 0;
      auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec == std::errc() && ptr == text.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
      } else {
        out += '%';
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    out[UrlDecode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    if (slash != 0) parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

std::optional<std::int64_t> ParseId(const std::string& text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

json SweepJson(const store::Sweep& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"state", store::Name(s.state)},
          {"priority", s.priority},
          {"spec_sha256", s.spec_sha256},
          {"created_at_ms", s.created_at_ms},
          {"updated_at_ms", s.updated_at_ms}};
}

json JobJson(const store::Job& j) {
  return {{"id", j.id},
          {"sweep_id", j.sweep_id},
          {"kind", store::Name(j.kind)},
          {"state", store::Name(j.state)},
          {"priority", j.priority},
          {"attempt_count", j.attempt_count},
          {"param_hash", j.param_hash},
          {"last_error", j.last_error}};
}

ApiResponse Submit(Coordinator& coordinator, const ApiOptions& options, const ApiRequest& request) {
  std::string spec = request.body;
  std::string file_name = "api-submission.yaml";
  SubmitOptions submit = options.submit;
  if (request.content_type.find("json") != std::string::npos) {
    json body;
    try {
      body = json::parse(request.body);
    } catch (const json::parse_error& e) {
      return Error(400, "invalid_json", e.what());
    }
    try {
      if (!body.is_object() || !body.contains("spec") || !body["spec"].is_string()) {
        return Error(400, "invalid_argument", "expected {\"spec\": \"<yaml>\", ...}");
      }
      spec = body["spec"].get<std::string>();
      file_name = body.value("file_name", file_name);
      submit.synthetic = body.value("synthetic", submit.synthetic);
      submit.rerender = body.value("rerender", submit.rerender);
      submit.synthetic_cpu_ms = body.value("synthetic_cpu_ms", submit.synthetic_cpu_ms);
      submit.synthetic_bytes = body.value("synthetic_bytes", submit.synthetic_bytes);
      if (body.contains("max_jobs")) submit.max_jobs = body["max_jobs"].get<std::int64_t>();
    } catch (const json::exception& e) {
      return Error(400, "invalid_argument", e.what());
    }
  }
  sweep::FileSpecResolver resolver(options.spec_dir, options.models_dir);
  auto result = coordinator.SubmitSweep(spec, file_name, options.presets, resolver, submit);
  if (!result.ok()) {
    if (result.status().code() == StatusCode::kNotFound) {
      return Error(400, "invalid_argument", result.status().message());
    }
    return FromStatus(result.status());
  }
  return Json(201, {{"sweep_id", result->sweep_id},
                    {"name", result->name},
                    {"jobs_total", result->jobs_total},
                    {"jobs_created", result->jobs_created},
                    {"renders_shared", result->renders_shared},
                    {"synthetic", submit.synthetic}});
}

// Queued jobs of the sweep that no online agent may take, grouped by reason (largest
// group first, at most kMaxReasons groups), so a client can say why a queue does not move.
constexpr std::size_t kMaxReasons = 5;

json UnrunnableJson(const std::vector<scheduler::UnrunnableJob>& stuck) {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> groups;  // reason -> (jobs, first)
  for (const scheduler::UnrunnableJob& job : stuck) {
    auto [it, inserted] = groups.try_emplace(job.reason, 0, job.job);
    ++it->second.first;
  }
  std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> sorted(groups.begin(),
                                                                                    groups.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.first != b.second.first ? a.second.first > b.second.first
                                            : a.second.second < b.second.second;
  });
  json reasons = json::array();
  for (std::size_t i = 0; i < sorted.size() && i < kMaxReasons; ++i) {
    reasons.push_back({{"reason", sorted[i].first},
                       {"jobs", sorted[i].second.first},
                       {"first_job", sorted[i].second.second}});
  }
  return {{"jobs", static_cast<std::int64_t>(stuck.size())}, {"reasons", reasons}};
}

ApiResponse GetSweep(Coordinator& coordinator, std::int64_t id) {
  auto sweep = coordinator.store().GetSweep(id);
  if (!sweep.ok()) return FromStatus(sweep.status());
  // One GROUP BY on farmd's loop thread, not a read of every job of the sweep.
  auto by_state = coordinator.store().CountJobsByState(id);
  if (!by_state.ok()) return FromStatus(by_state.status());
  json counts = json::object();
  for (const char* state : {"queued", "leased", "succeeded", "failed", "cancelled", "skipped"}) {
    counts[state] = 0;
  }
  std::int64_t total = 0;
  for (const auto& [state, count] : *by_state) {
    counts[store::Name(state)] = count;
    total += count;
  }
  json out = SweepJson(*sweep);
  out["jobs"] = counts;
  out["jobs_total"] = total;
  out["unrunnable"] = UnrunnableJson(coordinator.scheduler().UnrunnableJobs(id));
  json progress = json::array();
  for (const JobProgress& p : coordinator.RunningProgress(id)) {
    progress.push_back({{"job_id", p.job_id},
                        {"stage", p.stage},
                        {"step", p.step},
                        {"total", p.total},
                        {"message", p.message}});
  }
  out["progress"] = progress;
  // A search (spec's search:) adds rungs as it goes: where it stands and what it saved.
  if (IsSearchSpec(sweep->spec_yaml)) {
    auto search = ReadSearchProgress(coordinator.store(), id);
    if (search.ok()) {
      const bool finished = sweep->state != store::SweepState::kQueued &&
                            sweep->state != store::SweepState::kRunning &&
                            sweep->state != store::SweepState::kPaused;
      out["search"] = {{"rung", search->rung + 1},
                       {"rungs", search->rungs},
                       {"cells_per_rung", search->cells_per_rung},
                       {"renders", search->renders},
                       {"renders_full_grid", search->renders_full},
                       {"jobs", search->jobs},
                       {"jobs_full_grid", search->jobs_full},
                       {"saved_percent", search->saved_percent()},
                       {"done", finished},
                       {"summary", search->Summary()}};
    }
  }
  return Json(200, out);
}

ApiResponse ListJobs(Coordinator& coordinator, const std::map<std::string, std::string>& query) {
  store::JobFilter filter;
  filter.limit = 1000;
  for (const auto& [key, value] : query) {
    if (key == "sweep" || key == "after" || key == "limit") {
      auto id = ParseId(value);
      if (!id) return Error(400, "invalid_argument", key + " must be a positive integer");
      if (key == "sweep") filter.sweep_id = *id;
      if (key == "after") filter.after_id = *id;
      if (key == "limit") filter.limit = std::min<std::int64_t>(*id, 100000);
    } else if (key == "state") {
      auto state = store::ParseJobState(value);
      if (!state.ok()) return FromStatus(state.status());
      filter.state = *state;
    } else {
      return Error(400, "invalid_argument", "unknown query parameter '" + key + "'");
    }
  }
  auto jobs = coordinator.store().ListJobs(filter);
  if (!jobs.ok()) return FromStatus(jobs.status());
  std::map<std::int64_t, std::string> waiting;  // queued job -> why no agent may take it
  const bool any_queued = std::any_of(jobs->begin(), jobs->end(), [](const store::Job& job) {
    return job.state == store::JobState::kQueued;
  });
  if (any_queued) {
    std::optional<scheduler::SweepId> sweep;
    if (filter.sweep_id) sweep = *filter.sweep_id;
    for (scheduler::UnrunnableJob& job : coordinator.scheduler().UnrunnableJobs(sweep)) {
      waiting.emplace(job.job, std::move(job.reason));
    }
  }
  json out = json::array();
  for (const store::Job& job : *jobs) {
    json row = JobJson(job);
    if (auto it = waiting.find(job.id); it != waiting.end()) row["waiting_reason"] = it->second;
    out.push_back(std::move(row));
  }
  return Json(200, {{"jobs", out}});
}

ApiResponse ListAgents(Coordinator& coordinator) {
  auto agents = coordinator.store().ListAgents();
  if (!agents.ok()) return FromStatus(agents.status());
  json out = json::array();
  for (const store::AgentRecord& a : *agents) {
    json agent = {{"id", a.id},
                  {"hostname", a.hostname},
                  {"device", a.device_kind},
                  {"memory_bytes", a.memory_bytes},
                  {"cores", a.cores},
                  {"version", a.version},
                  {"state", store::Name(a.state)},
                  {"drain_requested", a.drain_requested},
                  {"last_seen_at_ms", a.last_seen_at_ms}};
    if (auto info = coordinator.scheduler().GetAgent(a.id); info.ok()) {
      agent["state"] = scheduler::Name(info->state);
      agent["slots"] = info->slots;
      agent["busy_slots"] = info->busy_slots;
      agent["busy_ms"] = info->busy_slot_ms;
      agent["models"] = info->cached_models;
    }
    out.push_back(std::move(agent));
  }
  return Json(200, {{"agents", out}});
}

// POST /api/v1/agents/{id}/drain or /resume: the agent's row afterwards, so `farmctl
// agents drain --wait` can watch its busy slots fall to zero.
ApiResponse SetDraining(Coordinator& coordinator, const std::string& agent_id, bool draining) {
  Status status = coordinator.SetAgentDraining(agent_id, draining);
  if (!status.ok()) return FromStatus(status);
  json agent = {{"id", agent_id}, {"drain_requested", draining}, {"state", "offline"},
                {"busy_slots", 0}};
  if (auto info = coordinator.scheduler().GetAgent(agent_id); info.ok()) {
    agent["state"] = scheduler::Name(info->state);
    agent["busy_slots"] = info->busy_slots;
  }
  return Json(200, agent);
}

ApiResponse Cancel(Coordinator& coordinator, bool sweep, std::int64_t id) {
  Status status = sweep ? coordinator.CancelSweep(id, "cancelled through the API")
                        : coordinator.CancelJob(id, "cancelled through the API");
  if (!status.ok()) return FromStatus(status);
  return Json(200, {{sweep ? "sweep_id" : "job_id", id}, {"cancelled", true}});
}

}  // namespace

ApiResponse HandleApiRequest(Coordinator& coordinator, const ApiOptions& options,
                             const ApiRequest& request) {
  const std::size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const auto query = ParseQuery(question == std::string::npos
                                    ? std::string_view()
                                    : std::string_view(request.target).substr(question + 1));
  const std::vector<std::string> parts = SplitPath(path);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";

  if (parts == std::vector<std::string>{"healthz"}) {
    if (!get) return Error(405, "method_not_allowed", "use GET");
    return Json(200, {{"ok", true}, {"session_id", coordinator.session_id()}});
  }
  // The dashboard's app shell holds no data: it loads without the token and asks for it.
  if (auto asset = ServeDashboardAsset(request.method, path)) return *asset;
  if (!options.tokens.empty()) {
    const ApiToken* token = FindToken(options.tokens, request.authorization);
    if (token == nullptr) return Error(401, "unauthenticated", "missing or wrong bearer token");
    if (token->kind == TokenKind::kRead && !get) {
      return Error(
          403, "forbidden",
          "a read token may only GET; " + request.method + " " + path + " needs an admin token");
    }
  }
  if (parts == std::vector<std::string>{"metrics"}) {
    if (!get) return Error(405, "method_not_allowed", "use GET");
    std::string text = coordinator.MetricsText();
    if (options.extra_metrics) text += options.extra_metrics();
    return {200, "text/plain; version=0.0.4", std::move(text)};
  }
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") {
    return Error(404, "not_found", "no route " + path);
  }
  const std::string& noun = parts[2];
  try {
    if (noun == "sweeps" && parts.size() == 3) {
      if (post) return Submit(coordinator, options, request);
      if (!get) return Error(405, "method_not_allowed", "use GET or POST");
      auto sweeps = coordinator.store().ListSweeps(0);
      if (!sweeps.ok()) return FromStatus(sweeps.status());
      json out = json::array();
      for (const store::Sweep& s : *sweeps) out.push_back(SweepJson(s));
      return Json(200, {{"sweeps", out}});
    }
    if ((noun == "sweeps" || noun == "jobs") && parts.size() >= 4) {
      auto id = ParseId(parts[3]);
      if (!id) return Error(404, "not_found", "no route " + path);
      if (parts.size() == 5 && parts[4] == "cancel") {
        if (!post) return Error(405, "method_not_allowed", "use POST");
        return Cancel(coordinator, noun == "sweeps", *id);
      }
      if (noun == "sweeps" && parts.size() == 5 && parts[4] == "priority") {
        if (!post) return Error(405, "method_not_allowed", "use POST");
        return SetSweepPriority(coordinator, *id, request);
      }
      if (parts.size() == 4 && get) {
        if (noun == "sweeps") return GetSweep(coordinator, *id);
        auto job = coordinator.store().GetJob(*id);
        if (!job.ok()) return FromStatus(job.status());
        return Json(200, JobJson(*job));
      }
      return Error(parts.size() == 4 ? 405 : 404, "not_found",
                   "no route " + request.method + " " + path);
    }
    if (noun == "jobs" && parts.size() == 3) {
      if (!get) return Error(405, "method_not_allowed", "use GET");
      return ListJobs(coordinator, query);
    }
    if (noun == "renders") return HandleRenders(coordinator, request, parts, query);
    if (noun == "agents" && parts.size() == 3) {
      if (!get) return Error(405, "method_not_allowed", "use GET");
      return ListAgents(coordinator);
    }
    if (noun == "agents" && parts.size() == 5 && (parts[4] == "drain" || parts[4] == "resume")) {
      if (!post) return Error(405, "method_not_allowed", "use POST");
      return SetDraining(coordinator, parts[3], parts[4] == "drain");
    }
  } catch (const std::exception& e) {  // nlohmann or std failures: never take farmd down
    return Error(500, "internal", e.what());
  }
  return Error(404, "not_found", "no route " + path);
}

}  // namespace farm::farmd
