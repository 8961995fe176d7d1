#include "farm/agent/trained_loras.h"

namespace farm::agent {

StatusOr<ModelEntry> FetchedTrainedLoras::Resolve(const TrainedLoraRef& ref,
                                                  const CancellationToken& cancel) {
  if (!fetcher_) return FailedPrecondition("no artifact fetcher: this agent cannot reach farmd");
  FARM_ASSIGN_OR_RETURN(
      FetchedArtifact fetched,
      fetcher_->FetchNamed(ref.train_param_hash, LoraArtifactName(ref.step), &cancel));
  return ModelEntry{fetched.path, fetched.size, fetched.sha256};
}

}  // namespace farm::agent
