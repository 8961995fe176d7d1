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

StatusOr<std::vector<Score>> Store::ListScores(std::int64_t render_id) {
  return Guarded(*impl_, "list scores", [&]() -> StatusOr<std::vector<Score>> {
    auto rows = impl_->Prepare(
        "SELECT id, identity_id, job_id, metric, model_version, similarity, faces_found, "
        "reason, created_at FROM scores WHERE render_id = ? ORDER BY id");
    rows->bind(1, static_cast<int64_t>(render_id));
    std::vector<Score> scores;
    while (rows->executeStep()) {
      Score score;
      score.id = rows->getColumn(0).getInt64();
      score.render_id = render_id;
      score.identity_id = rows->getColumn(1).getInt64();
      score.job_id = OptionalInt64(rows->getColumn(2));
      score.metric = rows->getColumn(3).getString();
      score.model_version = rows->getColumn(4).getString();
      score.similarity = OptionalDouble(rows->getColumn(5));
      score.faces_found = rows->getColumn(6).getInt();
      score.reason = TextOrEmpty(rows->getColumn(7));
      score.created_at_ms = rows->getColumn(8).getInt64();
      scores.push_back(std::move(score));
    }
    return scores;
  });
}

}  // namespace farm::store
