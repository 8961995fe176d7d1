// A succeeded train job's records: train_runs and train_steps, and the identity's LoRA
// (loras, lora_checkpoints with validation scores) from its "train_result" and
// "train_metrics" artifacts. Runs inside the result's transaction.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "coordinator_impl.h"
#include "train_records.h"

namespace farm::farmd {
namespace {

// The bytes of a stored artifact. NotFound (not an error that halts farmd): the run's
// records are a view of artifacts that stay stored whatever happens here.
StatusOr<std::string> ReadArtifact(store::Store& store, const std::string& root,
                                   const std::map<std::string, std::int64_t>& artifacts,
                                   const std::string& name) {
  auto it = artifacts.find(name);
  if (it == artifacts.end()) return NotFound("the result has no '" + name + "' artifact");
  FARM_ASSIGN_OR_RETURN(store::Artifact artifact, store.GetArtifact(it->second));
  const std::filesystem::path path = std::filesystem::path(root) / artifact.path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("artifact '" + name + "' file " + path.string() + " cannot be read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace

Status CoordinatorImpl::StoreTrainRun(const PendingResult& r,
                                      const std::map<std::string, std::int64_t>& artifacts) {
  if (!artifacts.contains("train_result")) {
    // A stand-in or older agent: its checkpoints are stored by name, nothing more to record.
    spdlog::info("job={}: the train result has no train_result artifact; no run recorded", r.lease.job);
    return Status::Ok();
  }
  FARM_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(r.lease.job));
  FARM_ASSIGN_OR_RETURN(std::string result,
                        ReadArtifact(store_, options_.artifact_root, artifacts, "train_result"));
  // Metrics are optional: a run without them still records its checkpoints.
  auto metrics = ReadArtifact(store_, options_.artifact_root, artifacts, "train_metrics");
  FARM_ASSIGN_OR_RETURN(TrainOutputs outputs,
                        ParseTrainOutputs(job.params_json, result, metrics.ok() ? *metrics : ""));
  outputs.run.job_id = r.lease.job;
  outputs.run.train_param_hash = job.param_hash;
  if (!outputs.run.prepare_param_hash.empty()) {
    auto dataset = store_.FindJobArtifact(outputs.run.prepare_param_hash, "dataset");
    if (dataset.ok()) outputs.run.dataset_sha256 = dataset->artifact.sha256;
  }
  FARM_RETURN_IF_ERROR(store_.RecordTrainRun(outputs.run, outputs.steps));

  // The identity's LoRA: only when the identity is registered (loras need its row).
  auto identity = store_.GetIdentityByName(outputs.identity);
  if (!identity.ok()) {
    spdlog::info("job={}: identity '{}' is not registered; its LoRA checkpoints are in "
                 "train_runs and job_artifacts only",
                 r.lease.job, outputs.identity);
    return Status::Ok();
  }
  store::NewLora lora;
  lora.identity_id = identity->id;
  lora.train_param_hash = job.param_hash;
  lora.job_id = r.lease.job;
  lora.checkpoint_sha256 = outputs.run.checkpoint_sha256;
  lora.settings_json = job.params_json;
  FARM_ASSIGN_OR_RETURN(std::int64_t lora_id, store_.InsertLora(lora));
  for (const TrainCheckpoint& checkpoint : outputs.checkpoints) {
    auto artifact = artifacts.find("lora@" + std::to_string(checkpoint.step));
    if (artifact == artifacts.end()) {
      return InvalidArgument("train_result names the checkpoint at step " +
                             std::to_string(checkpoint.step) + " but the result has no 'lora@" +
                             std::to_string(checkpoint.step) + "' artifact");
    }
    FARM_ASSIGN_OR_RETURN(std::int64_t id,
                          store_.AddLoraCheckpoint(lora_id, checkpoint.step, artifact->second));
    if (checkpoint.validation_score) {
      FARM_RETURN_IF_ERROR(store_.SetCheckpointValidation(id, *checkpoint.validation_score));
    }
  }
  return Status::Ok();
}

}  // namespace farm::farmd
