// The render-query whitelist: every column's SQL, type and help text.
#include "farm/query/catalog.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "farm/store/render_sql.h"
#include "text_util.h"

namespace farm::query {
namespace {

using T = ColumnType;

// lora_ref is "sha256:<hex>" (a LoRA file) or "train:<train param_hash>@<step>".
constexpr char kLoraHashSql[] =
    "(CASE WHEN r.lora_ref LIKE 'sha256:%' THEN substr(r.lora_ref, 8) "
    "WHEN r.lora_ref LIKE 'train:%@%' THEN substr(r.lora_ref, 7, instr(r.lora_ref, '@') - 7) "
    "END)";
constexpr char kLoraStepSql[] =
    "(CASE WHEN r.lora_ref LIKE 'train:%@%' "
    "THEN CAST(substr(r.lora_ref, instr(r.lora_ref, '@') + 1) AS INTEGER) END)";

// A member its sweep shares, e.g. Shared("prompt"): json_extract over render_sql.h's
// shared part (a literal path, so no bound value).
std::string Shared(const char* member) {
  return std::string("json_extract(") + store::kRenderSharedSql + ", '$." + member + "')";
}

std::vector<ColumnInfo> MakeColumns() {
  return {
      {"id", "r.id", T::kInteger, "render id (farmctl show ID)"},
      {"result", "rr.id", T::kInteger, "id of the sweep's result row (one per sweep and render)"},
      {"param_hash", "r.param_hash", T::kText, "SHA-256 of the render's canonical parameters"},
      {"sweep", "rr.sweep_id", T::kInteger, "sweep id"},
      {"sweep_name", "s.name", T::kText, "sweep name"},
      {"sampler", "r.sampler", T::kText, "sampler, e.g. 'Euler a', 'DPM++ 2M'"},
      {"scheduler", "r.scheduler", T::kText, "sigma schedule: 'normal' or 'karras'"},
      {"steps", "r.steps", T::kInteger, "sampling steps"},
      {"cfg", "r.cfg", T::kReal, "classifier-free guidance scale"},
      {"clip_skip", "r.clip_skip", T::kInteger, "CLIP layers skipped"},
      {"seed", "r.seed", T::kInteger, "noise seed (seeds >= 2^63 read as negative)"},
      {"width", "r.width", T::kInteger, "image width in pixels"},
      {"height", "r.height", T::kInteger, "image height in pixels"},
      {"size", "(r.width || 'x' || r.height)", T::kText, "'WIDTHxHEIGHT', e.g. '512x768'"},
      {"pose", "r.pose", T::kText, "pose library name (NULL: none)"},
      {"tone", "r.tone", T::kText, "tone preset (NULL: none)"},
      {"denoise", "r.denoise", T::kReal, "denoising strength (1 for txt2img)"},
      {"lora", "r.lora_ref", T::kText, "first LoRA: 'sha256:<hex>' or 'train:<hash>@<step>'"},
      {"lora_hash", kLoraHashSql, T::kText, "first LoRA's file hash or training job hash"},
      {"lora_weight", "r.lora_weight", T::kReal, "first LoRA's weight"},
      {"lora_step", kLoraStepSql, T::kInteger, "training step of a trained LoRA"},
      {"checkpoint", "r.checkpoint_sha256", T::kText, "base checkpoint's SHA-256"},
      // The prompts live only in the record (0012_prompt_columns.sql), with the other
      // members a sweep shares (0014_render_settings.sql).
      {"prompt", Shared("prompt"), T::kText, "prompt after template expansion"},
      {"negative_prompt", Shared("negative_prompt"), T::kText, "negative prompt"},
      {"engine", Shared("engine"), T::kText, "render engine version"},
      {"stages", Shared("stages"), T::kText, "pipeline stages and their settings (JSON)"},
      {"score", "rr.score", T::kReal, "face-ID cosine similarity (NULL: no face or not scored)"},
      {"euclidean", "rr.euclidean", T::kReal, "face-ID Euclidean distance"},
      {"faces", "rr.faces_found", T::kInteger, "faces found in the image (NULL: not scored)"},
      {"face_found", "(rr.faces_found > 0)", T::kBool, "true when a face was found"},
      {"identity", "(SELECT name FROM identities WHERE id = rr.identity_id)", T::kText,
       "identity the score compares with"},
      {"status", "j.state", T::kText,
       "render job state: queued, leased, succeeded, failed, cancelled, skipped"},
      {"agent", "rr.agent_id", T::kText, "agent that rendered the image"},
      {"agent_version", "rr.agent_version", T::kText, "that agent's version"},
      {"seconds", "rr.seconds", T::kReal, "render time in seconds"},
      {"image_sha256", "rr.image_sha256", T::kText, "SHA-256 of the final PNG"},
      {"created", "rr.created_at", T::kTime, "when the sweep asked for the render"},
      {"rendered", "rr.rendered_at", T::kTime, "when the image was stored"},
  };
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

constexpr std::size_t kMaxParamsPathBytes = 256;
constexpr std::string_view kParamsPrefix = "params.";
// Any path of the whole record (render_sql.h), bound as a value.
const std::string& ParamsSql() {
  static const std::string sql = std::string("json_extract(") + store::kRenderRecordSql + ", ?)";
  return sql;
}

}  // namespace

const std::vector<ColumnInfo>& RenderColumns() {
  static const std::vector<ColumnInfo> columns = MakeColumns();
  return columns;
}

std::string ParamsJsonPath(std::string_view name) {
  if (name.size() <= kParamsPrefix.size() || name.size() > kMaxParamsPathBytes ||
      ToLower(name.substr(0, kParamsPrefix.size())) != kParamsPrefix) {
    return "";
  }
  const std::string_view path = name.substr(kParamsPrefix.size());
  // Segments [A-Za-z_][A-Za-z0-9_]* joined by '.', each optionally followed by [N]s.
  std::size_t i = 0;
  bool expect_name = true;
  while (i < path.size()) {
    if (expect_name) {
      if (!IsIdentStart(path[i])) return "";
      while (i < path.size() && IsIdentChar(path[i])) ++i;
      expect_name = false;
    } else if (path[i] == '.') {
      ++i;
      expect_name = true;
    } else if (path[i] == '[') {
      const std::size_t digits = ++i;
      while (i < path.size() && path[i] >= '0' && path[i] <= '9') ++i;
      if (i == digits || i - digits > 9 || i >= path.size() || path[i] != ']') return "";
      ++i;
    } else {
      return "";
    }
  }
  if (expect_name) return "";
  return "$." + std::string(path);
}

bool IsParamsColumn(const ColumnInfo& column) { return column.sql == ParamsSql(); }

const ColumnInfo* FindRenderColumn(std::string_view name) {
  const std::string lower = ToLower(name);
  for (const ColumnInfo& column : RenderColumns()) {
    if (column.name == lower) return &column;
  }
  const std::string path = ParamsJsonPath(name);
  if (path.empty()) return nullptr;
  // Interned so that the pointer stays valid; JSON keys are case-sensitive, the prefix not.
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<ColumnInfo>> interned;
  const std::string key = std::string(kParamsPrefix) + path.substr(2);
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ColumnInfo>& slot = interned[key];
  if (!slot) {
    slot = std::make_unique<ColumnInfo>(
        ColumnInfo{key, ParamsSql(), ColumnType::kText, "value at " + path + " in params_json"});
  }
  return slot.get();
}

std::vector<std::string> DefaultRenderColumns() {
  return {"id",   "param_hash", "sweep", "sampler", "scheduler",   "steps", "cfg",
          "clip_skip", "seed",  "size",  "pose",    "tone",        "lora",  "lora_weight",
          "score", "face_found", "status"};
}

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger: return "integer";
    case ColumnType::kReal: return "real";
    case ColumnType::kText: return "text";
    case ColumnType::kBool: return "bool";
    case ColumnType::kTime: return "time";
  }
  return "unknown";
}

}  // namespace farm::query
