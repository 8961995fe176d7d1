// Private to farm_store: the render row writer shared by InsertRenders and InsertJobs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"
#include "farm/store/records.h"
#include "store_impl.h"

namespace farm::store {

struct CanonicalRender {
  std::string params_json;
  std::string param_hash;  // Sha256Hex(params_json)
};

// The record's canonical form: `params_json`/`param_hash` when given (trusted to be
// ToCanonicalJson(params) and its SHA-256; only the hash's form is checked), otherwise
// one ToCanonicalJson and one SHA-256. Done before a transaction opens so the write lock
// is held for SQL only.
StatusOr<CanonicalRender> Canonicalize(const RenderParams& params, std::string params_json,
                                       std::string param_hash);

// Writes render rows and sweep links with statements held for its lifetime, so a batch
// pays the statement-cache lookup once. Use inside a write scope; one per batch. Methods
// throw SQLite::Exception.
class RenderWriter {
 public:
  explicit RenderWriter(StoreImpl& impl);

  // Inserts the row unless its param_hash exists; either way returns its id. `job_id`
  // 0 leaves the column NULL.
  RenderInsert Upsert(const RenderParams& params, const CanonicalRender& canonical,
                      std::int64_t job_id, std::int64_t now_ms);
  // Links the render to the sweep and gives the sweep its render_results row, served by
  // the render's current job (set renders.job_id first). Idempotent.
  void LinkToSweep(std::int64_t sweep_id, std::int64_t render_id, std::int64_t now_ms);

 private:
  StoreImpl& impl_;
  StoreImpl::StatementLease insert_;
  StoreImpl::StatementLease find_;
  StoreImpl::StatementLease link_;
  StoreImpl::StatementLease result_;
};

}  // namespace farm::store
