// Where a render finds a LoRA that a training job produced ("train:<param_hash>@<step>"):
// not in the models dir but in farmd's artifact store, as the train job's output
// "lora@<step>". The render runner asks a TrainedLoraSource for a local file; the agent's
// source fetches it through the ArtifactFetcher into its artifact cache (once per agent).
#pragma once

#include <memory>

#include "farm/agent/artifact_fetcher.h"
#include "farm/agent/job_runner.h"
#include "farm/agent/model_index.h"
#include "farm/schemas/trained_lora.h"

namespace farm::agent {

class TrainedLoraSource {
 public:
  virtual ~TrainedLoraSource() = default;
  // The local file of the checkpoint `ref` names, with its sha256. Thread-safe; may block
  // (a download) until `cancel` asks to stop.
  virtual StatusOr<ModelEntry> Resolve(const TrainedLoraRef& ref,
                                       const CancellationToken& cancel) = 0;
};

// Fetches "lora@<step>" of the train job from farmd (ArtifactFetcher::FetchNamed).
class FetchedTrainedLoras : public TrainedLoraSource {
 public:
  explicit FetchedTrainedLoras(std::shared_ptr<ArtifactFetcher> fetcher)
      : fetcher_(std::move(fetcher)) {}
  StatusOr<ModelEntry> Resolve(const TrainedLoraRef& ref, const CancellationToken& cancel) override;

 private:
  std::shared_ptr<ArtifactFetcher> fetcher_;
};

}  // namespace farm::agent
