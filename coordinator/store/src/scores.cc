// Store methods for face-ID scores.
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {

StatusOr<std::vector<std::int64_t>> Store::InsertScores(const std::vector<NewScore>& scores) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("insert scores"));
  return Guarded(*impl_, "insert scores", [&]() -> StatusOr<std::vector<std::int64_t>> {
    const std::int64_t now = impl_->NowMs();
    std::vector<std::int64_t> ids;
    ids.reserve(scores.size());
    WriteScope scope(*impl_);
    for (const NewScore& score : scores) {
      if (score.job_id != 0) {
        // The score job's sweep sees this value for the render, even when an earlier
        // evaluation of the same record stored its own first.
        auto result = impl_->Prepare(
            score.metric == "euclidean"
                ? "UPDATE render_results SET identity_id = ?1, euclidean = ?2, faces_found = ?3 "
                  "WHERE render_id = ?4 AND sweep_id = (SELECT sweep_id FROM jobs WHERE id = ?5)"
                : "UPDATE render_results SET identity_id = ?1, score = ?2, faces_found = ?3 "
                  "WHERE render_id = ?4 AND sweep_id = (SELECT sweep_id FROM jobs WHERE id = ?5)");
        result->bind(1, static_cast<int64_t>(score.identity_id));
        if (score.similarity) {
          result->bind(2, *score.similarity);
        } else {
          result->bind(2);
        }
        result->bind(3, score.faces_found);
        result->bind(4, static_cast<int64_t>(score.render_id));
        result->bind(5, static_cast<int64_t>(score.job_id));
        result->exec();
      }
      {
        auto insert = impl_->Prepare(
            "INSERT INTO scores (render_id, identity_id, job_id, metric, model_version, "
            "similarity, faces_found, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (render_id, identity_id, metric, model_version) DO NOTHING");
        insert->bind(1, static_cast<int64_t>(score.render_id));
        insert->bind(2, static_cast<int64_t>(score.identity_id));
        BindIdOrNull(*insert, 3, score.job_id);
        insert->bind(4, score.metric);
        insert->bind(5, score.model_version);
        if (score.similarity) {
          insert->bind(6, *score.similarity);
        } else {
          insert->bind(6);
        }
        insert->bind(7, score.faces_found);
        BindTextOrNull(*insert, 8, score.reason);
        insert->bind(9, static_cast<int64_t>(now));
        if (insert->exec() == 1) {
          ids.push_back(impl_->db().getLastInsertRowid());
          continue;
        }
      }
      auto find = impl_->Prepare(
          "SELECT id FROM scores WHERE render_id = ? AND identity_id = ? AND metric = ? "
          "AND model_version = ?");
      find->bind(1, static_cast<int64_t>(score.render_id));
      find->bind(2, static_cast<int64_t>(score.identity_id));
      find->bind(3, score.metric);
      find->bind(4, score.model_version);
      if (!find->executeStep()) {
        throw CorruptRow("score of render " + std::to_string(score.render_id) +
                         " was neither inserted nor found");
      }
      ids.push_back(find->getColumn(0).getInt64());
    }
    scope.Commit();
    return ids;
  });
}

namespace {

Score ReadScore(SQLite::Statement& row) {
  Score score;
  score.id = row.getColumn(0).getInt64();
  score.render_id = row.getColumn(1).getInt64();
  score.identity_id = row.getColumn(2).getInt64();
  score.job_id = OptionalInt64(row.getColumn(3));
  score.metric = row.getColumn(4).getString();
  score.model_version = row.getColumn(5).getString();
  score.similarity = OptionalDouble(row.getColumn(6));
  score.faces_found = row.getColumn(7).getInt();
  score.reason = TextOrEmpty(row.getColumn(8));
  score.created_at_ms = row.getColumn(9).getInt64();
  return score;
}

}  // namespace

StatusOr<std::vector<Score>> Store::ListScoresForSweep(std::int64_t sweep_id) {
  return Guarded(*impl_, "list scores for sweep", [&]() -> StatusOr<std::vector<Score>> {
    auto rows = impl_->Prepare(
        "SELECT s.id, s.render_id, s.identity_id, s.job_id, s.metric, s.model_version, "
        "s.similarity, s.faces_found, s.reason, s.created_at FROM scores s "
        "JOIN render_results sr ON sr.render_id = s.render_id AND sr.sweep_id = ? "
        "ORDER BY s.render_id, s.id");
    rows->bind(1, static_cast<int64_t>(sweep_id));
    std::vector<Score> scores;
    while (rows->executeStep()) scores.push_back(ReadScore(*rows));
    return scores;
  });
}

StatusOr<std::vector<Score>> Store::ListScores(std::int64_t render_id) {
  return Guarded(*impl_, "list scores", [&]() -> StatusOr<std::vector<Score>> {
    auto rows = impl_->Prepare(
        "SELECT id, render_id, identity_id, job_id, metric, model_version, similarity, "
        "faces_found, reason, created_at FROM scores WHERE render_id = ? ORDER BY id");
    rows->bind(1, static_cast<int64_t>(render_id));
    std::vector<Score> scores;
    while (rows->executeStep()) scores.push_back(ReadScore(*rows));
    return scores;
  });
}

}  // namespace farm::store
