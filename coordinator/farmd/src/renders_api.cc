// GET /api/v1/renders[/{id}[/image]]: the dashboard's gallery, detail page and images.
//
// Filters are the query language of `farmctl renders` (farm_query): parsed into a tree and
// compiled to SQL over a column whitelist with bound values, run with Store::Select (one
// read-only statement). Images are read from the artifact root by the artifact's stored
// relative path: checked to stay inside the root, opened without following a final
// symlink, a regular file of the stored size. Reads are bounded (kMaxImageBytes) because
// they run on the loop thread.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "dashboard_routes.h"
#include "farm/query/render_query.h"
#include "farm/schemas/render_infotext.h"
#include "farm/schemas/safe_path.h"

namespace farm::farmd {
namespace {
using nlohmann::json;

constexpr std::int64_t kDefaultLimit = 200;
constexpr std::int64_t kMaxLimit = 5000;
constexpr std::int64_t kMaxImageBytes = 64ll << 20;

ApiResponse Json(int status, const json& body) { return {status, "application/json", body.dump()}; }

std::optional<std::int64_t> ParseInt(const std::string& text, std::int64_t min) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min) return std::nullopt;
  return value;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

// ?sweep=3 or ?sweep=3,4: positive ids.
StatusOr<std::vector<std::int64_t>> ParseSweeps(const std::string& text) {
  std::vector<std::int64_t> ids;
  for (const std::string& item : SplitList(text)) {
    auto id = ParseInt(item, 1);
    if (!id) return InvalidArgument("sweep must be a positive integer (or a comma list), not '" + item + "'");
    ids.push_back(*id);
  }
  return ids;
}

ApiResponse ListRenders(Coordinator& coordinator, const QueryParams& params) {
  query::RenderQuery request;
  request.limit = kDefaultLimit;
  for (const auto& [key, value] : params) {
    if (key == "where") {
      request.where = value;
    } else if (key == "order_by") {
      request.order_by = value;
    } else if (key == "columns") {
      request.columns = SplitList(value);
    } else if (key == "sweep") {
      auto ids = ParseSweeps(value);
      if (!ids.ok()) return ApiErrorFromStatus(ids.status());
      request.sweep_ids = *ids;
    } else if (key == "limit" || key == "offset") {
      auto number = ParseInt(value, key == "limit" ? 1 : 0);
      if (!number) return ApiErrorResponse(400, "invalid_argument", key + " must be a " +
                                               (key == "limit" ? "positive" : "non-negative") + " integer");
      if (key == "limit") request.limit = std::min(*number, kMaxLimit);
      if (key == "offset") request.offset = *number;
    } else {
      return ApiErrorResponse(400, "invalid_argument",
                              "unknown query parameter '" + key +
                                  "' (expected where, order_by, columns, sweep, limit, offset)");
    }
  }
  const std::int64_t limit = request.limit;
  request.limit = limit + 1;  // one more row says whether the limit cut the answer
  auto built = query::BuildRenderQuery(request);
  if (!built.ok()) {
    // The caret message, meant to be shown as is (monospace).
    if (built.status().code() == StatusCode::kInvalidArgument) {
      return ApiErrorResponse(400, "invalid_query", built.status().message());
    }
    return ApiErrorFromStatus(built.status());
  }
  auto rows = coordinator.store().Select(built->sql, built->binds);
  if (!rows.ok()) return ApiErrorResponse(500, "internal", "render query: " + rows.status().message());
  const bool truncated = static_cast<std::int64_t>(rows->rows.size()) > limit;
  if (truncated) rows->rows.resize(static_cast<std::size_t>(limit));
  json answer = {{"columns", built->columns},
                 {"renders", query::RowsToJson(*built, *rows)},
                 {"count", rows->rows.size()},
                 {"limit", limit},
                 {"truncated", truncated}};
  return Json(200, answer);
}

// The render_results row to show: the one of ?sweep=S, else the newest sweep's.
StatusOr<std::optional<store::RenderResult>> PickResult(Coordinator& coordinator,
                                                        std::int64_t render_id,
                                                        const QueryParams& params) {
  FARM_ASSIGN_OR_RETURN(std::vector<store::RenderResult> results,
                        coordinator.store().ListRenderResults(render_id));
  auto sweep = params.find("sweep");
  if (sweep == params.end() || sweep->second.empty()) {
    if (results.empty()) return std::optional<store::RenderResult>();
    return std::optional<store::RenderResult>(results.back());
  }
  auto id = ParseInt(sweep->second, 1);
  if (!id) return InvalidArgument("sweep must be a positive integer, not '" + sweep->second + "'");
  for (const store::RenderResult& result : results) {
    if (result.sweep_id == *id) return std::optional<store::RenderResult>(result);
  }
  return NotFound("render " + std::to_string(render_id) + " is not part of sweep " +
                  std::to_string(*id));
}

template <typename T>
json OrNull(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

ApiResponse GetRenderDetail(Coordinator& coordinator, std::int64_t render_id,
                            const QueryParams& params) {
  for (const auto& [key, value] : params) {
    if (key != "sweep") return ApiErrorResponse(400, "invalid_argument", "unknown query parameter '" + key + "'");
  }
  auto render = coordinator.store().GetRender(render_id);
  if (!render.ok()) return ApiErrorFromStatus(render.status());
  auto picked = PickResult(coordinator, render_id, params);
  if (!picked.ok()) return ApiErrorFromStatus(picked.status());
  json out = {{"id", render_id}, {"param_hash", render->param_hash}};
  out["params"] = json::parse(render->params_json, nullptr, /*allow_exceptions=*/false);
  // Every whitelisted column of the chosen row, through the same query path as the gallery.
  out["render"] = json::object();
  if (*picked) {
    query::RenderQuery request;
    request.sweep_ids = {(*picked)->sweep_id};
    request.where = "id = " + std::to_string(render_id);  // a number we parsed, not user text
    for (const query::ColumnInfo& column : query::RenderColumns()) request.columns.push_back(column.name);
    auto built = query::BuildRenderQuery(request);
    if (!built.ok()) return ApiErrorFromStatus(built.status());
    auto rows = coordinator.store().Select(built->sql, built->binds);
    if (!rows.ok()) return ApiErrorResponse(500, "internal", "render query: " + rows.status().message());
    json row_json = query::RowsToJson(*built, *rows);
    if (!row_json.empty()) out["render"] = row_json.front();
    out["sweep"] = (*picked)->sweep_id;
  }
  auto results = coordinator.store().ListRenderResults(render_id);
  if (!results.ok()) return ApiErrorFromStatus(results.status());
  json sweeps = json::array();
  for (const store::RenderResult& r : *results) {
    sweeps.push_back({{"sweep", r.sweep_id},
                      {"job_id", OrNull(r.job_id)},
                      {"image_sha256", r.image_sha256},
                      {"agent", r.agent_id},
                      {"agent_version", r.agent_version},
                      {"seconds", OrNull(r.seconds)},
                      {"rendered_at_ms", OrNull(r.rendered_at_ms)},
                      {"score", OrNull(r.score)},
                      {"euclidean", OrNull(r.euclidean)},
                      {"faces_found", OrNull(r.faces_found)}});
  }
  out["results"] = sweeps;
  auto stages = coordinator.store().ListRenderStageImages(render_id);
  if (!stages.ok()) return ApiErrorFromStatus(stages.status());
  json stage_names = json::array();
  for (const auto& [stage, artifact] : *stages) stage_names.push_back(stage);
  out["stages"] = stage_names;
  out["reproduce"] = "farmctl reproduce " + std::to_string(render_id);
  // The A1111 "parameters" text the PNG carries (copyable into a front end); null when the
  // record cannot be written as one.
  out["parameters"] = nullptr;
  auto generation = RenderGenerationParameters(render->params, RenderInfotextNames{},
                                               render->param_hash, std::to_string(render_id));
  if (generation.ok()) {
    if (auto text = FormatParameters(*generation); text.ok()) out["parameters"] = *text;
  }
  return Json(200, out);
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

ApiResponse ServeArtifact(Coordinator& coordinator, std::int64_t artifact_id, const std::string& what) {
  auto artifact = coordinator.store().GetArtifact(artifact_id);
  if (!artifact.ok()) return ApiErrorFromStatus(artifact.status());
  if (!IsSafeRelativePath(artifact->path)) {
    return ApiErrorResponse(500, "internal", what + ": stored path '" + artifact->path +
                                                 "' is not inside the artifact root");
  }
  if (artifact->size > kMaxImageBytes) {
    return ApiErrorResponse(413, "too_large", what + " has " + std::to_string(artifact->size) +
                                                  " bytes; the dashboard serves at most " +
                                                  std::to_string(kMaxImageBytes));
  }
  const std::filesystem::path path = std::filesystem::path(coordinator.artifact_root()) / artifact->path;
  Fd file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat info = {};
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0) {
    return ApiErrorResponse(503, "unavailable", what + ": cannot open '" + path.string() + "': " +
                                                    std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode) || info.st_size != artifact->size) {
    return ApiErrorResponse(503, "unavailable", what + ": '" + path.string() + "' has " +
                                                    std::to_string(info.st_size) +
                                                    " bytes, the store says " +
                                                    std::to_string(artifact->size));
  }
  std::string bytes(static_cast<std::size_t>(artifact->size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(file.fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ApiErrorResponse(503, "unavailable", what + ": short read of '" + path.string() + "'");
    done += static_cast<std::size_t>(n);
  }
  // Only image types go out as themselves; anything else as bytes the browser won't run.
  const std::string& type = artifact->media_type;
  const bool image = type == "image/png" || type == "image/jpeg" || type == "image/webp";
  return {200, image ? type : "application/octet-stream", std::move(bytes)};
}

// The final image (of ?sweep=S, else the newest sweep's), or ?stage=NAME's image.
ApiResponse GetRenderImage(Coordinator& coordinator, std::int64_t render_id,
                           const QueryParams& params) {
  std::string stage;
  QueryParams sweep_only;
  for (const auto& [key, value] : params) {
    if (key == "stage") {
      stage = value;
    } else if (key == "sweep") {
      sweep_only[key] = value;
    } else {
      return ApiErrorResponse(400, "invalid_argument",
                              "unknown query parameter '" + key + "' (expected sweep, stage)");
    }
  }
  const std::string what = "render " + std::to_string(render_id);
  if (!stage.empty()) {
    auto stages = coordinator.store().ListRenderStageImages(render_id);
    if (!stages.ok()) return ApiErrorFromStatus(stages.status());
    auto it = stages->find(stage);
    if (it == stages->end()) {
      return ApiErrorResponse(404, "not_found", what + " has no stage image '" + stage + "'");
    }
    return ServeArtifact(coordinator, it->second, what + " stage '" + stage + "'");
  }
  auto picked = PickResult(coordinator, render_id, sweep_only);
  if (!picked.ok()) return ApiErrorFromStatus(picked.status());
  if (*picked && (*picked)->artifact_id) return ServeArtifact(coordinator, *(*picked)->artifact_id, what);
  // No sweep result with an image: the render's own (first) image, when there is one.
  auto render = coordinator.store().GetRender(render_id);
  if (!render.ok()) return ApiErrorFromStatus(render.status());
  if (!render->artifact_id) return ApiErrorResponse(404, "not_found", what + " has no image yet");
  return ServeArtifact(coordinator, *render->artifact_id, what);
}

}  // namespace

ApiResponse HandleRenders(Coordinator& coordinator, const ApiRequest& request,
                          const std::vector<std::string>& parts, const QueryParams& query) {
  if (request.method != "GET") return ApiErrorResponse(405, "method_not_allowed", "use GET");
  if (parts.size() == 3) return ListRenders(coordinator, query);
  auto id = ParseInt(parts[3], 1);
  if (!id) return ApiErrorResponse(404, "not_found", "no render '" + parts[3] + "'");
  if (parts.size() == 4) return GetRenderDetail(coordinator, *id, query);
  if (parts.size() == 5 && parts[4] == "image") return GetRenderImage(coordinator, *id, query);
  return ApiErrorResponse(404, "not_found", "no route " + request.target.substr(0, request.target.find('?')));
}

}  // namespace farm::farmd
