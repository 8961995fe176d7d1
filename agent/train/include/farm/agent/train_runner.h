// JOB_KIND_TRAIN: trains the LoRA of one TrainParams record with farm-train.
//
// A train job with gang size K is leased as K slots. The agent holding rank 0 starts all
// K ranks (train_launch.h: farm-train alone, mpirun -np K, or srun under Slurm) and owns
// them as one process group; a partner seat (gang rank > 0) only holds its slot until the
// job ends. Progress comes from farm-train's JSON events (step/total, loss, lr, s/step,
// ETA). The run folder <work_dir>/<param_hash> is kept, so a retry of a killed attempt on
// this agent resumes from the last saved state rather than step 0. When the gang's hosts
// (JobSpec.gang_hosts) are not all this host, mpirun gets a hostfile of them.
//
// Artifacts: "lora@<step>" per saved step (kohya .safetensors), "train_result"
// (result.json: checkpoints, validation scores, selection, collectives), "train_metrics"
// (metrics.jsonl: loss, lr and grad norm of every step) and, with top_k > 1,
// "lora@ensemble". Metrics: steps, final_loss, seconds_train, world_size, best_step.
//
// Failures: bad parameters and a non-finite loss are permanent (they would recur on any
// agent); a rank killed by a signal gives the job back (retried, resuming); anything else
// is a transient failure with the tail of farm-train's log.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "farm/agent/job_runner.h"
#include "farm/agent/model_index.h"

namespace farm::agent {

// The prepared-dataset folder a train job trains on (fetched from farmd by farm-agent).
using DatasetSource =
    std::function<StatusOr<std::string>(const std::string& params_json, const CancellationToken& cancel)>;

struct TrainRunnerOptions {
  std::shared_ptr<const ModelIndex> models;  // the base checkpoint by SHA-256; required
  std::string farm_train;                    // path of the farm-train program
  std::string work_dir;                      // run folders live in work_dir/<param_hash>
  DatasetSource dataset;                     // required
  std::string face_models_dir;               // for face-ID validation
  int threads_per_rank = 1;                  // 0: the job's compute_threads over its local ranks
  std::string mpirun = "mpirun";
};

class TrainRunner : public JobRunner {
 public:
  explicit TrainRunner(TrainRunnerOptions options);
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_TRAIN; }
  JobOutcome Run(const JobSpec& spec, const ProgressFn& progress, const CancellationToken& cancel) override;

 private:
  TrainRunnerOptions options_;
};

}  // namespace farm::agent
