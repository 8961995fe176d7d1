// farm-agent's prepare and train job kinds (worker mode):
//   JOB_KIND_PREPARE when face-api models are found (--face-models-dir or
//     <models-dir>/face-api/model): datasets kept in <cache-dir>/datasets;
//   JOB_KIND_TRAIN when farm-train is found: --farm-train PATH, else next to farm-agent
//     (the installed layout) or in the build tree's agent/train/, else on $PATH; run folders
//     in <cache-dir>/train; --train-threads per rank (0: the job's threads over its local
//     ranks). A dataset comes from farmd: the record's prepare_param_hash names the prepare
//     job whose "dataset" bundle is fetched and unpacked once into the cache.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "farm/agent/artifact_fetcher.h"
#include "farm/agent/job_runner.h"
#include "farm/agent/train_runner.h"
#include "render_commands.h"

namespace farm::agent {

void AddTrainingJobOptions(CLI::App& app);

// Registers what this machine can run; a kind that cannot run here is left out with a
// warning on stderr. An explicit --farm-train that is not an executable is an error.
Status RegisterTrainingRunners(RunnerRegistry& registry, std::shared_ptr<ArtifactFetcher> fetcher,
                               const std::string& cache_dir, const WorkerModels& models);

// The dataset folder of a train record: prepare_param_hash -> that job's "dataset" bundle
// -> unpacked folder in the fetcher's cache.
DatasetSource FetchedDataset(std::shared_ptr<ArtifactFetcher> fetcher);

}  // namespace farm::agent
