// JOB_KIND_PREPARE: one PrepareParams record (schemas/render_params.h) -> a prepared
// training dataset, returned as the single artifact "dataset" (application/x-tar, a
// folder bundle: folder_bundle.h) with metrics "images" and "skipped".
//
// Each photo is found at <models_dir>/<path> (or at path itself when absolute) and must
// have the recorded SHA-256: a missing or different file is kNotFound naming the photo
// (transient: another agent may hold the photos). Photos with no face (or several,
// without pick_largest) are left out; when no photo is usable the failure is permanent
// and lists each photo's reason. Datasets are kept in <datasets_dir>/<dataset id>, so a
// retry or a second job with the same photos and settings does no face work.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "farm/agent/job_runner.h"

namespace farm::faceid {
class FacePipeline;
}

namespace farm::agent {

struct PrepareRunnerOptions {
  std::string models_dir;       // root that photo paths are relative to; required
  std::string face_models_dir;  // face-api weights (the folder holding the manifests); required
  std::string datasets_dir;     // where prepared datasets are kept; required
};

class PrepareRunner : public JobRunner {
 public:
  explicit PrepareRunner(PrepareRunnerOptions options);
  ~PrepareRunner() override;
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_PREPARE; }
  JobOutcome Run(const JobSpec& spec, const ProgressFn& progress, const CancellationToken& cancel) override;

 private:
  // The face models, loaded by the first job; jobs take turns using them (mu_).
  Status LoadFacesLocked();

  PrepareRunnerOptions options_;
  std::mutex mu_;
  std::unique_ptr<faceid::FacePipeline> faces_;
  std::string detector_;
};

}  // namespace farm::agent
