#include "report_data.h"

#include <cstdio>
#include <variant>

#include "farm/schemas/trained_lora.h"
#include "farm/store/render_sql.h"
#include "farm/store/store.h"

namespace farmctl::report {
namespace {

using farm::store::SqlValue;

// One statement for every row: the sweep's view of each render (render_results), the
// render's parameters (the prompt from the record's shared part: 0012_prompt_columns.sql,
// 0014_render_settings.sql), the job that served it and the image's stored path.
const std::string kRowsSql = R"sql(
SELECT rr.render_id, r.param_hash, r.sampler, r.scheduler, r.steps, r.cfg, r.clip_skip, r.seed,
       r.width, r.height, r.pose, r.tone, r.denoise, r.lora_ref, r.lora_weight,
       r.checkpoint_sha256, json_extract()sql" + std::string(farm::store::kRenderSharedSql) + R"sql(, '$.prompt'), rr.score, rr.faces_found,
       rr.seconds, rr.rendered_at, rr.agent_id, j.state, rr.image_sha256, a.path
FROM render_results rr
JOIN renders r ON r.id = rr.render_id
LEFT JOIN jobs j ON j.id = rr.job_id
LEFT JOIN artifacts a ON a.id = rr.artifact_id
WHERE rr.sweep_id = ?1
ORDER BY rr.render_id)sql";

std::string Text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return {};
}
std::optional<double> Real(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}
std::optional<std::int64_t> Int(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return std::nullopt;
}

std::string Format(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

farm::StatusOr<ReportData> LoadReportData(farm::store::Store& store, std::int64_t sweep_id) {
  ReportData data;
  auto sweep = store.GetSweep(sweep_id);
  if (!sweep.ok()) return sweep.status();
  data.sweep.id = sweep->id;
  data.sweep.name = sweep->name;
  data.sweep.state = farm::store::Name(sweep->state);
  data.sweep.created_at_ms = sweep->created_at_ms;

  auto result = store.Select(kRowsSql, {SqlValue{sweep_id}});
  if (!result.ok()) return result.status().WithContext("report rows of sweep " + std::to_string(sweep_id));
  data.rows.reserve(result->rows.size());
  for (const std::vector<SqlValue>& v : result->rows) {
    RenderRow row;
    row.render_id = Int(v[0]).value_or(0);
    row.param_hash = Text(v[1]);
    row.sampler = Text(v[2]);
    row.scheduler = Text(v[3]);
    row.steps = static_cast<int>(Int(v[4]).value_or(0));
    row.cfg = Real(v[5]).value_or(0);
    row.clip_skip = static_cast<int>(Int(v[6]).value_or(0));
    // Seeds >= 2^63 are stored as their two's-complement negative.
    row.seed = static_cast<std::uint64_t>(Int(v[7]).value_or(0));
    row.width = static_cast<int>(Int(v[8]).value_or(0));
    row.height = static_cast<int>(Int(v[9]).value_or(0));
    row.pose = Text(v[10]);
    row.tone = Text(v[11]);
    row.denoise = Real(v[12]).value_or(1.0);
    row.lora = Text(v[13]);
    row.lora_weight = Real(v[14]);
    if (auto trained = farm::ParseTrainedLoraRef(row.lora); trained.ok()) row.lora_step = trained->step;
    row.checkpoint = Text(v[15]);
    row.prompt = Text(v[16]);
    row.score = Real(v[17]);
    if (auto faces = Int(v[18])) row.faces_found = static_cast<int>(*faces);
    row.seconds = Real(v[19]);
    row.rendered_at_ms = Int(v[20]);
    row.agent = Text(v[21]);
    row.status = std::holds_alternative<std::monostate>(v[22]) ? "shared" : Text(v[22]);
    row.image_sha256 = Text(v[23]);
    row.image_path = Text(v[24]);
    data.rows.push_back(std::move(row));
  }
  return data;
}

std::optional<std::string> ParameterValue(const RenderRow& row, const std::string& parameter) {
  auto or_none = [](const std::string& s) { return s.empty() ? std::string("(none)") : s; };
  if (parameter == "sampler") return row.sampler;
  if (parameter == "scheduler") return row.scheduler;
  if (parameter == "steps") return std::to_string(row.steps);
  if (parameter == "cfg") return Format(row.cfg);
  if (parameter == "clip_skip") return std::to_string(row.clip_skip);
  if (parameter == "seed") return std::to_string(row.seed);
  if (parameter == "size") return std::to_string(row.width) + "x" + std::to_string(row.height);
  if (parameter == "pose") return or_none(row.pose);
  if (parameter == "tone") return or_none(row.tone);
  if (parameter == "denoise") return Format(row.denoise);
  if (parameter == "lora") return or_none(row.lora);
  if (parameter == "lora_weight") return row.lora_weight ? Format(*row.lora_weight) : "(none)";
  if (parameter == "lora_step") return row.lora_step ? std::to_string(*row.lora_step) : "(none)";
  if (parameter == "checkpoint") return or_none(row.checkpoint.substr(0, 10));
  if (parameter == "status") return row.status;
  if (parameter == "agent") return or_none(row.agent);
  if (parameter == "face_found") {
    if (!row.faces_found) return "(not scored)";
    return *row.faces_found > 0 ? "yes" : "no";
  }
  return std::nullopt;
}

std::string ParameterLine(const RenderRow& row) {
  std::string line = "Steps: " + std::to_string(row.steps) + ", Sampler: " + row.sampler +
                     ", Schedule type: " + row.scheduler + ", CFG scale: " + Format(row.cfg) +
                     ", Seed: " + std::to_string(row.seed) + ", Size: " + std::to_string(row.width) +
                     "x" + std::to_string(row.height) + ", Clip skip: " + std::to_string(row.clip_skip);
  if (row.denoise < 1.0) line += ", Denoising strength: " + Format(row.denoise);
  if (!row.pose.empty()) line += ", Pose: " + row.pose;
  if (!row.tone.empty()) line += ", Tone: " + row.tone;
  if (!row.lora.empty()) {
    line += ", LoRA: " + row.lora;
    if (row.lora_weight) line += ":" + Format(*row.lora_weight);
  }
  if (!row.checkpoint.empty()) line += ", Model hash: " + row.checkpoint.substr(0, 10);
  return line;
}

}  // namespace farmctl::report
