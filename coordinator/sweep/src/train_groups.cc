#include "train_groups.h"

namespace farm::sweep {

std::uint64_t TrainGroupCount(const TrainSpec& train) {
  return std::uint64_t{train.rank.size()} * train.alpha.size() * train.learning_rate.size() *
         train.batch_size.size() * train.resolution.size() * train.seed.size();
}

bool StepsNeedOwnRuns(const TrainSpec& train) {
  auto it = train.extra.find("lr_scheduler");
  if (it == train.extra.end() || !std::holds_alternative<std::string>(it->second)) return false;
  const std::string& name = std::get<std::string>(it->second);
  return name == "linear" || name == "cosine";
}

std::uint64_t TrainJobsPerGroup(const TrainSpec& train) {
  return StepsNeedOwnRuns(train) ? train.steps.size() : 1;
}

std::vector<TrainParams> TrainGroups(const SweepSpec& spec, const std::string& photos_sha256,
                                     const std::string& checkpoint_sha256) {
  std::vector<TrainParams> groups;
  const TrainSpec& t = *spec.train;
  for (int rank : t.rank) {
    for (double alpha : t.alpha) {
      for (double learning_rate : t.learning_rate) {
        for (int batch_size : t.batch_size) {
          for (int resolution : t.resolution) {
            for (std::uint64_t seed : t.seed) {
              TrainParams p;
              p.identity = spec.identity.name;
              p.photos_sha256 = photos_sha256;
              p.instance_token = spec.identity.token;
              p.checkpoint_sha256 = checkpoint_sha256;
              p.save_steps = t.steps;
              p.rank = rank;
              p.alpha = alpha;
              p.learning_rate = learning_rate;
              p.batch_size = batch_size;
              p.ranks = t.ranks;
              p.resolution = resolution;
              p.seed = seed;
              p.extra = t.extra;
              groups.push_back(std::move(p));
            }
          }
        }
      }
    }
  }
  return groups;
}

}  // namespace farm::sweep
