#include "spec_inputs.h"

#include <vector>

#include "farm/sweep/file_resolver.h"
#include "model_file_check.h"
#include "photo_check.h"
#include "vae_fit.h"

namespace farmctl {
namespace {

struct Problems {
  std::vector<farm::Status> found;
  void Add(const farm::Status& status, const std::string& field) {
    if (!status.ok()) found.push_back(status.WithContext(field));
  }
};

// The file's path when it passed, "" otherwise (or when given by hash only).
std::string CheckModel(const farm::sweep::FileSpecResolver& resolver, const farm::sweep::ModelRef& model,
                       ModelRole role, const std::string& field, Problems& problems) {
  if (model.path.empty()) return "";  // by hash only: nothing on this disk to read
  farm::StatusOr<std::string> path = resolver.ResolvePath(model.path);
  if (!path.ok()) {
    problems.Add(path.status(), field);
    return "";
  }
  const farm::Status checked = CheckModelFile(*path, role);
  problems.Add(checked, field);
  return checked.ok() ? *path : "";
}

}  // namespace

farm::Status CheckSpecInputs(const farm::sweep::SweepSpec& spec, const std::string& spec_dir,
                             const std::string& models_dir) {
  const farm::sweep::FileSpecResolver resolver(spec_dir, models_dir);
  Problems problems;
  const std::string checkpoint =
      CheckModel(resolver, spec.checkpoint, ModelRole::kCheckpoint, "checkpoint", problems);
  if (spec.vae) {
    const std::string vae = CheckModel(resolver, *spec.vae, ModelRole::kVae, "vae", problems);
    if (!vae.empty() && !checkpoint.empty()) problems.Add(CheckVaeFitsCheckpoint(vae, checkpoint), "vae");
  }
  for (const auto& [name, model] : spec.loras) {
    CheckModel(resolver, model, ModelRole::kLora, "loras." + name, problems);
  }
  for (const farm::sweep::EmbeddingSpec& embedding : spec.embeddings) {
    CheckModel(resolver, embedding.file, ModelRole::kEmbedding, "embeddings (" + embedding.name + ")", problems);
  }
  if (spec.pose_control) {
    CheckModel(resolver, spec.pose_control->model, ModelRole::kControlNet, "render.pose_control",
               problems);
  }
  farm::StatusOr<std::vector<std::string>> photos = resolver.ResolvePhotoFiles(spec.identity.photos);
  if (!photos.ok()) {
    problems.Add(photos.status(), "identity.photos");
  } else {
    for (const std::string& photo : *photos) problems.Add(CheckPhotoFile(photo), "identity.photos");
  }
  if (problems.found.empty()) return farm::Status::Ok();
  if (problems.found.size() == 1) return problems.found[0];
  std::string message = std::to_string(problems.found.size()) + " problems with the files the sweep names:";
  for (const farm::Status& problem : problems.found) message += "\n  " + problem.message();
  return farm::Status(problems.found[0].code(), message);
}

}  // namespace farmctl
