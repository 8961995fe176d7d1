#include "render_rows.h"

#include "farm/schemas/sha256.h"

namespace farm::store {
namespace {

constexpr char kInsertRender[] =
    "INSERT INTO renders (param_hash, params_json, job_id, seed, sampler, scheduler, steps, "
    "cfg, clip_skip, width, height, pose, tone, denoise, lora_ref, lora_weight, "
    "checkpoint_sha256, created_at, settings_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
    "ON CONFLICT (param_hash) DO NOTHING";

constexpr char kFindSettings[] =
    "SELECT id FROM render_settings WHERE fingerprint = ?1 AND settings_json = ?2";
constexpr char kInsertSettings[] =
    "INSERT INTO render_settings (fingerprint, settings_json, created_at) VALUES (?1, ?2, ?3)";

// A new render's result row: its job (if any) has not run, so there is nothing to copy.
constexpr char kInsertNewResult[] =
    "INSERT INTO render_results (sweep_id, render_id, job_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sweep_id, render_id) DO NOTHING";

// A sweep's result row for a render; copies the result of the render's job when it has
// one (see LinkToSweep).
constexpr char kInsertResult[] =
    "INSERT INTO render_results (sweep_id, render_id, job_id, artifact_id, image_sha256, "
    "  faces_artifact_id, agent_id, agent_version, seconds, rendered_at, created_at) "
    "SELECT ?1, r.id, r.job_id, "
    "  coalesce(o.artifact_id, own.artifact_id), coalesce(o.image_sha256, own.sha256), "
    "  coalesce(o.faces_artifact_id, own.faces_artifact_id), o.agent_id, o.agent_version, "
    "  o.seconds, coalesce(o.rendered_at, own.rendered_at), ?3 "
    "FROM renders r "
    "LEFT JOIN render_results o ON o.id = (SELECT id FROM render_results "
    "  WHERE job_id = r.job_id AND artifact_id IS NOT NULL ORDER BY id LIMIT 1) "
    "LEFT JOIN (SELECT r2.id, r2.artifact_id, r2.faces_artifact_id, r2.rendered_at, a.sha256 "
    "           FROM renders r2 JOIN artifacts a ON a.id = r2.artifact_id "
    "           LEFT JOIN jobs j2 ON j2.id = r2.job_id "
    "           WHERE r2.id = ?2 AND (r2.job_id IS NULL OR j2.state = 'succeeded')) own "
    "  ON own.id = r.id "
    "WHERE r.id = ?2 "
    "ON CONFLICT (sweep_id, render_id) DO NOTHING";

// bindNoCopy: the strings outlive the statement's execution, which follows at once.
void BindTextNoCopyOrNull(SQLite::Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.bind(index);
  } else {
    statement.bindNoCopy(index, text);
  }
}

}  // namespace

StatusOr<CanonicalRender> Canonicalize(const RenderParams& params, const std::string& params_json,
                                       const std::string& param_hash) {
  if (params_json.empty()) {
    FARM_ASSIGN_OR_RETURN(std::string json, ToCanonicalJson(params));
    std::string hash = Sha256Hex(json);
    return CanonicalRender::Own(std::move(json), std::move(hash));
  }
  if (!IsSha256Hex(param_hash)) {
    return InvalidArgument("param_hash '" + param_hash + "' is not 64 lower-case hex digits");
  }
  return CanonicalRender::Borrow(params_json, param_hash);
}

RenderWriter::RenderWriter(StoreImpl& impl)
    : impl_(impl),
      insert_(impl.Prepare(kInsertRender)),
      find_(impl.Prepare("SELECT id FROM renders WHERE param_hash = ?")),
      result_(impl.Prepare(kInsertResult)),
      new_result_(impl.Prepare(kInsertNewResult)),
      settings_find_(impl.Prepare(kFindSettings)),
      settings_insert_(impl.Prepare(kInsertSettings)) {}

std::int64_t RenderWriter::SettingsId(const std::string& shared, std::int64_t now_ms) {
  const std::int64_t fingerprint = SettingsFingerprint(shared);
  SQLite::Statement& find = *settings_find_;
  find.reset();
  find.bind(1, static_cast<int64_t>(fingerprint));
  find.bindNoCopy(2, shared);
  std::int64_t id = 0;
  if (find.executeStep()) id = find.getColumn(0).getInt64();
  find.reset();
  if (id == 0) {
    SQLite::Statement& insert = *settings_insert_;
    insert.reset();
    insert.bind(1, static_cast<int64_t>(fingerprint));
    insert.bindNoCopy(2, shared);
    insert.bind(3, static_cast<int64_t>(now_ms));
    insert.exec();
    insert.reset();
    id = impl_.db().getLastInsertRowid();
  }
  return id;
}

RenderInsert RenderWriter::Upsert(const RenderParams& params, const CanonicalRender& canonical,
                                  std::int64_t job_id, std::int64_t now_ms) {
  SQLite::Statement& insert = *insert_;
  insert.reset();  // every parameter is bound again below
  insert.bindNoCopy(1, canonical.param_hash());
  const RecordSplitter::Split split = splitter_.SplitRecord(canonical.params_json(), &own_);
  if (split.shared != nullptr) {
    if (*split.settings_id == 0) *split.settings_id = SettingsId(*split.shared, now_ms);
    insert.bindNoCopy(2, own_);
    insert.bind(19, static_cast<int64_t>(*split.settings_id));
  } else {
    insert.bindNoCopy(2, canonical.params_json());
    insert.bind(19);
  }
  BindIdOrNull(insert, 3, job_id);
  // Seeds >= 2^63 wrap to negative (documented in 0001_initial.sql).
  insert.bind(4, static_cast<int64_t>(params.seed));
  insert.bindNoCopy(5, params.sampler);
  insert.bindNoCopy(6, params.scheduler);
  insert.bind(7, params.steps);
  insert.bind(8, params.cfg);
  insert.bind(9, params.clip_skip);
  insert.bind(10, params.width);
  insert.bind(11, params.height);
  BindTextNoCopyOrNull(insert, 12, params.pose);
  BindTextNoCopyOrNull(insert, 13, params.tone);
  insert.bind(14, params.denoise);
  if (params.loras.empty()) {
    insert.bind(15);
    insert.bind(16);
  } else {
    insert.bindNoCopy(15, params.loras.front().ref);
    insert.bind(16, params.loras.front().weight);
  }
  insert.bindNoCopy(17, params.checkpoint_sha256);
  // No prompt columns: readers take the prompts from params_json (0012_prompt_columns.sql).
  insert.bind(18, static_cast<int64_t>(now_ms));
  const bool created = insert.exec() == 1;
  insert.reset();  // release the bound strings before the caller's records go away
  if (created) return {impl_.db().getLastInsertRowid(), true};

  SQLite::Statement& find = *find_;
  find.reset();
  find.bindNoCopy(1, canonical.param_hash());
  if (!find.executeStep()) {
    throw CorruptRow("render " + canonical.param_hash() + " was neither inserted nor found");
  }
  const RenderInsert existing{find.getColumn(0).getInt64(), false};
  find.reset();
  return existing;
}

void RenderWriter::LinkToSweep(std::int64_t sweep_id, std::int64_t render_id,
                               std::int64_t now_ms) {
  // The sweep's result row (also its link: sweep_renders is a view of render_results)
  // serves from the render's current job. When that job already rendered (a shared
  // render), the row starts with its result: another row served by the job, or the
  // render's own columns for a render without job rows (stored before 0008, or inserted
  // without a job).
  SQLite::Statement& result = *result_;
  result.reset();
  result.bind(1, static_cast<int64_t>(sweep_id));
  result.bind(2, static_cast<int64_t>(render_id));
  result.bind(3, static_cast<int64_t>(now_ms));
  result.exec();
}

void RenderWriter::LinkNewToSweep(std::int64_t sweep_id, std::int64_t render_id,
                                  std::int64_t job_id, std::int64_t now_ms) {
  SQLite::Statement& result = *new_result_;
  result.reset();
  result.bind(1, static_cast<int64_t>(sweep_id));
  result.bind(2, static_cast<int64_t>(render_id));
  BindIdOrNull(result, 3, job_id);
  result.bind(4, static_cast<int64_t>(now_ms));
  result.exec();
}

}  // namespace farm::store
