#include "training_jobs.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "farm/agent/prepare_runner.h"
#include "farm/agent/train_launch.h"
#include "farm/schemas/data_dir.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

struct TrainingFlags {
  std::string farm_train;
  int threads_per_rank = 0;
};
TrainingFlags g_training;

std::string SelfDir() {
  const std::string self = SelfExecutable();
  return self.empty() ? "" : fs::path(self).parent_path().string();
}

bool IsExecutable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// farm-train next to this binary (installed), in the build tree (build/agent/farm-agent
// and build/agent/train/farm-train), else on $PATH. Empty when none; `looked` lists where.
std::string FindFarmTrain(std::string* looked) {
  const std::string self = SelfDir();
  std::vector<fs::path> candidates;
  if (!self.empty()) candidates = {fs::path(self) / "farm-train", fs::path(self) / "train" / "farm-train"};
  for (const fs::path& candidate : candidates) {
    *looked += candidate.string() + ", ";
    if (IsExecutable(candidate)) return candidate.string();
  }
  *looked += "$PATH";
  return FindExecutable("farm-train");
}

}  // namespace

void AddTrainingJobOptions(CLI::App& app) {
  app.add_option("--farm-train", g_training.farm_train,
                 "farm-train program for train jobs (default: next to farm-agent, the build's "
                 "agent/train/farm-train, or $PATH)");
  app.add_option("--train-threads", g_training.threads_per_rank,
                 "threads per training rank (0: the job's --threads over its ranks on this host)")
      ->check(CLI::Range(0, 1024));
}

DatasetSource FetchedDataset(std::shared_ptr<ArtifactFetcher> fetcher) {
  return [fetcher](const std::string& params_json, const CancellationToken& cancel) -> StatusOr<std::string> {
    const nlohmann::json doc = nlohmann::json::parse(params_json, nullptr, false);
    const nlohmann::json* hash = doc.is_object() && doc.contains("prepare_param_hash") ? &doc["prepare_param_hash"]
                                                                                      : nullptr;
    if (!hash || !hash->is_string() || hash->get<std::string>().empty()) {
      return InvalidArgument("train record has no prepare_param_hash (the prepare job of its dataset)");
    }
    StatusOr<FetchedArtifact> bundle = fetcher->FetchNamed(hash->get<std::string>(), "dataset", &cancel);
    if (!bundle.ok()) return bundle.status().WithContext("dataset of prepare job " + hash->get<std::string>());
    return fetcher->FetchFolder(bundle->sha256, &cancel);
  };
}

Status RegisterTrainingRunners(RunnerRegistry& registry, std::shared_ptr<ArtifactFetcher> fetcher,
                               const std::string& cache_dir, const WorkerModels& models) {
  if (models.face_models_dir.empty()) {
    std::fprintf(stderr, "farm-agent: prepare jobs disabled: no face-api models (set --face-models-dir or put "
                         "them in <models-dir>/face-api/model)\n");
  } else {
    PrepareRunnerOptions prepare;
    prepare.models_dir = models.index->models_dir();
    prepare.face_models_dir = models.face_models_dir;
    prepare.datasets_dir = (fs::path(cache_dir) / "datasets").string();
    FARM_RETURN_IF_ERROR(registry.Register(std::make_unique<PrepareRunner>(std::move(prepare))));
  }

  TrainRunnerOptions train;
  if (!g_training.farm_train.empty()) {
    if (!IsExecutable(g_training.farm_train)) {
      return NotFound("--farm-train " + g_training.farm_train + " is not an executable file");
    }
    train.farm_train = g_training.farm_train;
  } else {
    std::string looked;
    train.farm_train = FindFarmTrain(&looked);
    if (train.farm_train.empty()) {
      std::fprintf(stderr, "farm-agent: train jobs disabled: farm-train not found (looked in %s); build it or "
                           "pass --farm-train PATH\n", looked.c_str());
      return Status::Ok();
    }
  }
  train.models = models.index;
  train.work_dir = (fs::path(cache_dir) / "train").string();
  train.face_models_dir = models.face_models_dir;
  train.threads_per_rank = g_training.threads_per_rank;
  train.dataset = FetchedDataset(std::move(fetcher));
  return registry.Register(std::make_unique<TrainRunner>(std::move(train)));
}

}  // namespace farm::agent
