// Store methods for trained LoRAs and their per-step checkpoints.
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kLoraColumns[] =
    "SELECT id, identity_id, train_param_hash, job_id, checkpoint_sha256, settings_json, "
    "created_at FROM loras";

Lora ReadLora(SQLite::Statement& row) {
  Lora lora;
  lora.id = row.getColumn(0).getInt64();
  lora.identity_id = row.getColumn(1).getInt64();
  lora.train_param_hash = row.getColumn(2).getString();
  lora.job_id = OptionalInt64(row.getColumn(3));
  lora.checkpoint_sha256 = row.getColumn(4).getString();
  lora.settings_json = row.getColumn(5).getString();
  lora.created_at_ms = row.getColumn(6).getInt64();
  return lora;
}

}  // namespace

StatusOr<std::int64_t> Store::InsertLora(const NewLora& lora) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("insert lora"));
  return Guarded(*impl_, "insert lora " + lora.train_param_hash, [&]() -> StatusOr<std::int64_t> {
    WriteScope scope(*impl_);
    {
      auto insert = impl_->Prepare(
          "INSERT INTO loras (identity_id, train_param_hash, job_id, checkpoint_sha256, "
          "settings_json, created_at) VALUES (?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (train_param_hash) DO NOTHING");
      insert->bind(1, static_cast<int64_t>(lora.identity_id));
      insert->bind(2, lora.train_param_hash);
      BindIdOrNull(*insert, 3, lora.job_id);
      insert->bind(4, lora.checkpoint_sha256);
      insert->bind(5, lora.settings_json);
      insert->bind(6, static_cast<int64_t>(impl_->NowMs()));
      if (insert->exec() == 1) {
        const std::int64_t id = impl_->db().getLastInsertRowid();
        scope.Commit();
        return id;
      }
    }
    auto find = impl_->Prepare("SELECT id FROM loras WHERE train_param_hash = ?");
    find->bind(1, lora.train_param_hash);
    if (!find->executeStep()) return impl_->NotFoundError("lora " + lora.train_param_hash);
    const std::int64_t id = find->getColumn(0).getInt64();
    scope.Commit();
    return id;
  });
}

StatusOr<Lora> Store::GetLora(std::int64_t lora_id) {
  return Guarded(*impl_, "get lora", [&]() -> StatusOr<Lora> {
    auto row = impl_->Prepare(std::string(kLoraColumns) + " WHERE id = ?");
    row->bind(1, static_cast<int64_t>(lora_id));
    if (!row->executeStep()) return impl_->NotFoundError("lora " + std::to_string(lora_id));
    return ReadLora(*row);
  });
}

StatusOr<Lora> Store::GetLoraByTrainHash(const std::string& train_param_hash) {
  return Guarded(*impl_, "get lora by train hash", [&]() -> StatusOr<Lora> {
    auto row = impl_->Prepare(std::string(kLoraColumns) + " WHERE train_param_hash = ?");
    row->bind(1, train_param_hash);
    if (!row->executeStep()) return impl_->NotFoundError("lora " + train_param_hash);
    return ReadLora(*row);
  });
}

StatusOr<std::int64_t> Store::AddLoraCheckpoint(std::int64_t lora_id, int step,
                                                std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("add lora checkpoint"));
  const std::string what =
      "add checkpoint of lora " + std::to_string(lora_id) + " at step " + std::to_string(step);
  return Guarded(*impl_, what, [&]() -> StatusOr<std::int64_t> {
    WriteScope scope(*impl_);
    {
      // A repeated report of the same checkpoint (at-least-once delivery) is not an error.
      auto existing = impl_->Prepare(
          "SELECT id, artifact_id FROM lora_checkpoints WHERE lora_id = ? AND step = ?");
      existing->bind(1, static_cast<int64_t>(lora_id));
      existing->bind(2, step);
      if (existing->executeStep()) {
        const std::int64_t stored_artifact = existing->getColumn(1).getInt64();
        if (stored_artifact != artifact_id) {
          return AlreadyExists(impl_->path() + ": " + what + ": already stored with artifact " +
                               std::to_string(stored_artifact) + ", not " +
                               std::to_string(artifact_id));
        }
        return existing->getColumn(0).getInt64();
      }
    }
    auto insert = impl_->Prepare(
        "INSERT INTO lora_checkpoints (lora_id, step, artifact_id, created_at) "
        "VALUES (?, ?, ?, ?)");
    insert->bind(1, static_cast<int64_t>(lora_id));
    insert->bind(2, step);
    insert->bind(3, static_cast<int64_t>(artifact_id));
    insert->bind(4, static_cast<int64_t>(impl_->NowMs()));
    insert->exec();
    const std::int64_t id = impl_->db().getLastInsertRowid();
    scope.Commit();
    return id;
  });
}

Status Store::SetCheckpointValidation(std::int64_t checkpoint_id, double score) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set checkpoint validation"));
  return Guarded(*impl_, "set checkpoint validation", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE lora_checkpoints SET validation_score = ? WHERE id = ?");
    update->bind(1, score);
    update->bind(2, static_cast<int64_t>(checkpoint_id));
    if (update->exec() == 0) {
      return impl_->NotFoundError("lora checkpoint " + std::to_string(checkpoint_id));
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<LoraCheckpoint>> Store::ListLoraCheckpoints(std::int64_t lora_id) {
  return Guarded(*impl_, "list lora checkpoints", [&]() -> StatusOr<std::vector<LoraCheckpoint>> {
    auto rows = impl_->Prepare(
        "SELECT c.id, c.step, c.artifact_id, a.sha256, c.validation_score, c.created_at "
        "FROM lora_checkpoints c JOIN artifacts a ON a.id = c.artifact_id "
        "WHERE c.lora_id = ? ORDER BY c.step");
    rows->bind(1, static_cast<int64_t>(lora_id));
    std::vector<LoraCheckpoint> checkpoints;
    while (rows->executeStep()) {
      LoraCheckpoint checkpoint;
      checkpoint.id = rows->getColumn(0).getInt64();
      checkpoint.lora_id = lora_id;
      checkpoint.step = rows->getColumn(1).getInt();
      checkpoint.artifact_id = rows->getColumn(2).getInt64();
      checkpoint.sha256 = rows->getColumn(3).getString();
      checkpoint.validation_score = OptionalDouble(rows->getColumn(4));
      checkpoint.created_at_ms = rows->getColumn(5).getInt64();
      checkpoints.push_back(std::move(checkpoint));
    }
    return checkpoints;
  });
}

}  // namespace farm::store
