// Private to farm_store: the render row writer shared by InsertRenders and InsertJobs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"
#include "farm/store/records.h"
#include "render_record_split.h"
#include "store_impl.h"

namespace farm::store {

// A record's canonical JSON and its SHA-256. Points at the caller's strings when the
// record carried them (a batch does not copy ~1 KB per row), else owns them.
class CanonicalRender {
 public:
  static CanonicalRender Borrow(const std::string& params_json, const std::string& param_hash) {
    CanonicalRender canonical;
    canonical.json_ = &params_json;
    canonical.hash_ = &param_hash;
    return canonical;
  }
  static CanonicalRender Own(std::string params_json, std::string param_hash) {
    CanonicalRender canonical;
    canonical.computed_ = std::make_unique<std::pair<std::string, std::string>>(
        std::move(params_json), std::move(param_hash));
    canonical.json_ = &canonical.computed_->first;  // heap: stays put when moved
    canonical.hash_ = &canonical.computed_->second;
    return canonical;
  }

  const std::string& params_json() const { return *json_; }
  const std::string& param_hash() const { return *hash_; }

 private:
  const std::string* json_ = nullptr;
  const std::string* hash_ = nullptr;
  std::unique_ptr<std::pair<std::string, std::string>> computed_;
};

// The record's canonical form: `params_json`/`param_hash` when given (trusted to be
// ToCanonicalJson(params) and its SHA-256; only the hash's form is checked; borrowed, so
// they must outlive the result), otherwise one ToCanonicalJson and one SHA-256. Done
// before a transaction opens so the write lock is held for SQL only.
StatusOr<CanonicalRender> Canonicalize(const RenderParams& params, const std::string& params_json,
                                       const std::string& param_hash);

// Writes render rows and sweep links with statements held for its lifetime, so a batch
// pays the statement-cache lookup once. Use inside a write scope; one per batch. Methods
// throw SQLite::Exception.
class RenderWriter {
 public:
  explicit RenderWriter(StoreImpl& impl);

  // Inserts the row unless its param_hash exists; either way returns its id. `job_id`
  // 0 leaves the column NULL. The record is stored split when it can be (its shared
  // members in render_settings, once; see render_record_split.h).
  RenderInsert Upsert(const RenderParams& params, const CanonicalRender& canonical,
                      std::int64_t job_id, std::int64_t now_ms);
  // Links the render to the sweep and gives the sweep its render_results row, served by
  // the render's current job (set renders.job_id first). Idempotent.
  void LinkToSweep(std::int64_t sweep_id, std::int64_t render_id, std::int64_t now_ms);
  // The same for a render Upsert has just created with `job_id` (0: none): a plain
  // insert, since neither the render nor its job has a result yet.
  void LinkNewToSweep(std::int64_t sweep_id, std::int64_t render_id, std::int64_t job_id,
                      std::int64_t now_ms);

 private:
  // The id of the render_settings row holding `shared`, found or inserted.
  std::int64_t SettingsId(const std::string& shared, std::int64_t now_ms);

  StoreImpl& impl_;
  StoreImpl::StatementLease insert_;
  StoreImpl::StatementLease find_;
  StoreImpl::StatementLease result_;
  StoreImpl::StatementLease new_result_;
  StoreImpl::StatementLease settings_find_;
  StoreImpl::StatementLease settings_insert_;
  // Layouts seen by this writer, with their settings rows' ids (one transaction: a
  // rolled-back insert cannot leave a stale id behind), and the own part being written.
  RecordSplitter splitter_;
  std::string own_;
};

}  // namespace farm::store
