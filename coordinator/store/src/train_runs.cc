// Store methods for training runs and their per-step metrics (tables train_runs,
// train_steps).
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kRunColumns[] =
    "SELECT job_id, train_param_hash, prepare_param_hash, dataset_sha256, checkpoint_sha256, "
    "world_size, steps, best_step, params_json, result_json, created_at FROM train_runs";

TrainRun ReadRun(SQLite::Statement& row) {
  TrainRun run;
  run.job_id = row.getColumn(0).getInt64();
  run.train_param_hash = row.getColumn(1).getString();
  run.prepare_param_hash = row.getColumn(2).getString();
  run.dataset_sha256 = TextOrEmpty(row.getColumn(3));
  run.checkpoint_sha256 = row.getColumn(4).getString();
  run.world_size = row.getColumn(5).getInt();
  run.steps = row.getColumn(6).getInt();
  if (auto best = OptionalInt64(row.getColumn(7))) run.best_step = static_cast<int>(*best);
  run.params_json = row.getColumn(8).getString();
  run.result_json = row.getColumn(9).getString();
  run.created_at_ms = row.getColumn(10).getInt64();
  return run;
}

void BindOptional(SQLite::Statement& statement, int index, const std::optional<double>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind(index);
  }
}

}  // namespace

Status Store::RecordTrainRun(const TrainRun& run, const std::vector<TrainStep>& steps) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("record train run"));
  return Guarded(*impl_, "record train run of job " + std::to_string(run.job_id), [&]() -> Status {
    WriteScope scope(*impl_);
    auto insert = impl_->Prepare(
        "INSERT OR REPLACE INTO train_runs (job_id, train_param_hash, prepare_param_hash, "
        "dataset_sha256, checkpoint_sha256, world_size, steps, best_step, params_json, "
        "result_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bind(1, static_cast<int64_t>(run.job_id));
    insert->bind(2, run.train_param_hash);
    insert->bind(3, run.prepare_param_hash);
    BindTextOrNull(*insert, 4, run.dataset_sha256);
    insert->bind(5, run.checkpoint_sha256);
    insert->bind(6, run.world_size);
    insert->bind(7, run.steps);
    if (run.best_step) {
      insert->bind(8, *run.best_step);
    } else {
      insert->bind(8);
    }
    insert->bind(9, run.params_json);
    insert->bind(10, run.result_json);
    insert->bind(11, static_cast<int64_t>(impl_->NowMs()));
    insert->exec();
    auto clear = impl_->Prepare("DELETE FROM train_steps WHERE job_id = ?");
    clear->bind(1, static_cast<int64_t>(run.job_id));
    clear->exec();
    auto step_row = impl_->Prepare(
        "INSERT INTO train_steps (job_id, step, loss, lr, lr_text_encoder, grad_norm) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    for (const TrainStep& step : steps) {
      step_row->reset();
      step_row->bind(1, static_cast<int64_t>(run.job_id));
      step_row->bind(2, step.step);
      BindOptional(*step_row, 3, step.loss);
      BindOptional(*step_row, 4, step.lr);
      BindOptional(*step_row, 5, step.lr_text_encoder);
      BindOptional(*step_row, 6, step.grad_norm);
      step_row->exec();
    }
    scope.Commit();
    return Status::Ok();
  });
}

StatusOr<TrainRun> Store::GetTrainRun(std::int64_t job_id) {
  return Guarded(*impl_, "get train run", [&]() -> StatusOr<TrainRun> {
    auto row = impl_->Prepare(std::string(kRunColumns) + " WHERE job_id = ?");
    row->bind(1, static_cast<int64_t>(job_id));
    if (!row->executeStep()) return impl_->NotFoundError("train run of job " + std::to_string(job_id));
    return ReadRun(*row);
  });
}

StatusOr<TrainRun> Store::GetTrainRunByHash(const std::string& train_param_hash) {
  return Guarded(*impl_, "get train run by hash", [&]() -> StatusOr<TrainRun> {
    auto row = impl_->Prepare(std::string(kRunColumns) +
                              " WHERE train_param_hash = ? ORDER BY created_at DESC, job_id DESC");
    row->bind(1, train_param_hash);
    if (!row->executeStep()) return impl_->NotFoundError("train run " + train_param_hash);
    return ReadRun(*row);
  });
}

StatusOr<std::vector<TrainStep>> Store::ListTrainSteps(std::int64_t job_id) {
  return Guarded(*impl_, "list train steps", [&]() -> StatusOr<std::vector<TrainStep>> {
    auto rows = impl_->Prepare(
        "SELECT step, loss, lr, lr_text_encoder, grad_norm FROM train_steps WHERE job_id = ? "
        "ORDER BY step");
    rows->bind(1, static_cast<int64_t>(job_id));
    std::vector<TrainStep> steps;
    while (rows->executeStep()) {
      TrainStep step;
      step.step = rows->getColumn(0).getInt();
      step.loss = OptionalDouble(rows->getColumn(1));
      step.lr = OptionalDouble(rows->getColumn(2));
      step.lr_text_encoder = OptionalDouble(rows->getColumn(3));
      step.grad_norm = OptionalDouble(rows->getColumn(4));
      steps.push_back(step);
    }
    return steps;
  });
}

}  // namespace farm::store
