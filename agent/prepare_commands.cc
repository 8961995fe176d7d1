#include "prepare_commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "face_models_dir.h"
#include "faces_output.h"
#include "farm/agent/prepare_dataset.h"
#include "farm/agent/prepare_latents.h"
#include "farm/faceid/pipeline.h"

namespace farm::agent {
namespace {
using Json = nlohmann::ordered_json;

struct PrepareFlags {
  std::string identity;
  PrepareRequest request;
  std::string pick;  // "" or "largest"
  bool flip = false;
  std::string checkpoint;
  std::string face_models;
  int threads = 0;
  bool json_output = false;
};

PrepareFlags g_prepare;
CLI::App* g_command = nullptr;

void Say(const std::string& line) { std::fprintf(stderr, "prepare %s: %s\n", g_prepare.identity.c_str(), line.c_str()); }

int Fail(const Status& status) {
  if (g_prepare.json_output) {
    std::printf("%s\n", Json{{"ok", false}, {"identity", g_prepare.identity}, {"error", ErrorJson(status)}}
                            .dump()
                            .c_str());
  }
  std::fprintf(stderr, "farm-agent prepare: %s\n", status.ToString().c_str());
  return 1;
}

Json ResultJson(const PrepareResult& result, const std::optional<LatentCacheResult>& latents) {
  const DatasetManifest& m = result.manifest;
  Json images = Json::array();
  for (const PreparedImage& image : m.images) {
    images.push_back({{"file", image.file},
                      {"source_name", image.source_name},
                      {"source_sha256", image.source_sha256},
                      {"faces_found", image.faces_found},
                      {"crop_box",
                       {{"x", image.crop_box.x},
                        {"y", image.crop_box.y},
                        {"width", image.crop_box.width},
                        {"height", image.crop_box.height}}},
                      {"caption", image.caption}});
  }
  Json skipped = Json::array();
  for (const SkippedPhoto& photo : m.skipped) {
    skipped.push_back({{"source_name", photo.source_name}, {"source_sha256", photo.source_sha256}, {"reason", photo.reason}});
  }
  Json out = {{"ok", true},
              {"identity", g_prepare.identity},
              {"dataset_id", result.dataset_id},
              {"folder", result.folder},
              {"manifest", result.folder + "/" + kManifestFileName},
              {"reused", result.reused},
              {"resolution", m.settings.resolution},
              {"crop_ratio", m.settings.crop_ratio},
              {"images", images},
              {"skipped", skipped},
              {"warnings", m.warnings}};
  if (latents) {
    out["latents"] = {{"file", latents->path},
                      {"checkpoint_sha256", latents->checkpoint_sha256},
                      {"kind", kLatentKind},
                      {"count", latents->count},
                      {"shape", latents->shape},
                      {"flip", g_prepare.flip},
                      {"reused", latents->reused}};
  } else {
    out["latents"] = nullptr;
  }
  return out;
}

int RunPrepare() {
  PrepareRequest& request = g_prepare.request;
  request.settings.pick_largest = g_prepare.pick == "largest";
  StatusOr<std::string> model_dir = FaceModelDir(g_prepare.face_models);
  if (!model_dir.ok()) return Fail(model_dir.status());
  StatusOr<std::string> detector = FaceDetectorVersion(*model_dir);
  if (!detector.ok()) return Fail(detector.status());
  StatusOr<faceid::FacePipeline> faces = faceid::FacePipeline::Load(*model_dir);
  if (!faces.ok()) return Fail(faces.status().WithContext("loading the face models"));

  StatusOr<PrepareResult> result = PrepareDataset(*faces, *detector, request, Say);
  if (!result.ok()) return Fail(result.status());
  for (const std::string& warning : result->manifest.warnings) Say("warning: " + warning);

  std::optional<LatentCacheResult> latents;
  if (!g_prepare.checkpoint.empty()) {
    Say("encoding VAE latents with " + g_prepare.checkpoint + (g_prepare.flip ? " (and flips)" : ""));
    LatentCacheRequest cache{result->folder, g_prepare.checkpoint, g_prepare.flip, g_prepare.threads};
    StatusOr<LatentCacheResult> cached = CacheLatents(cache, result->manifest);
    if (!cached.ok()) return Fail(cached.status());
    Say(std::string(cached->reused ? "latents already cached: " : "latents written: ") + cached->path);
    latents = std::move(*cached);
  }

  if (g_prepare.json_output) {
    std::printf("%s\n", ResultJson(*result, latents).dump().c_str());
    return 0;
  }
  std::printf("dataset %s%s\n  folder    %s\n  images    %zu at %d px\n", result->dataset_id.c_str(),
              result->reused ? " (already prepared)" : "", result->folder.c_str(), result->manifest.images.size(),
              result->manifest.settings.resolution);
  for (const SkippedPhoto& photo : result->manifest.skipped) {
    std::printf("  left out  %s: %s\n", photo.source_name.c_str(), photo.reason.c_str());
  }
  for (const std::string& warning : result->manifest.warnings) std::printf("  warning   %s\n", warning.c_str());
  if (latents) std::printf("  latents   %s\n", latents->path.c_str());
  return 0;
}

}  // namespace

void AddPrepareCommand(CLI::App& app) {
  PrepareFlags& f = g_prepare;
  g_command = app.add_subcommand(
      "prepare",
      "prepare an identity's photos for LoRA training: face crops, captions, manifest, VAE latents");
  g_command->add_option("--identity", f.identity, "identity name (for messages)")->required();
  g_command->add_option("--token", f.request.instance_token, "instance token the captions name")
      ->capture_default_str();
  g_command->add_option("--photos", f.request.photos, "the identity's photos (JPEG, PNG, ...)")->required();
  g_command->add_option("--out", f.request.out_root, "datasets folder; the dataset goes to OUT/<dataset id>")
      ->required();
  g_command->add_option("--ratio", f.request.settings.crop_ratio,
                        "crop side over the face box's longer side (EasyPhoto: about 3)")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  g_command->add_option("--resolution", f.request.settings.resolution, "training image side in px (multiple of 8)")
      ->check(CLI::Range(64, 2048))
      ->capture_default_str();
  g_command->add_option("--caption", f.request.settings.caption_template,
                        "caption template; {token} becomes the instance token")
      ->capture_default_str();
  g_command->add_option("--pick", f.pick, "largest: from a photo with several faces keep the largest")
      ->check(CLI::IsMember({"largest"}));
  CLI::Option* checkpoint = g_command->add_option(
      "--checkpoint", f.checkpoint, "SD 1.5 checkpoint (.safetensors): cache the VAE latents for it");
  g_command->add_flag("--flip", f.flip, "also cache the latent of each image mirrored left-right")
      ->needs(checkpoint);
  g_command->add_option("--face-models", f.face_models,
                        "face-api models: the folder or a models root holding face-api/model (default: "
                        "$STUDIOFARM_MODELS or ~/.cache/studiofarm/models)");
  g_command->add_option("--threads", f.threads, "torch threads for the VAE (0: libtorch's default)")
      ->check(CLI::Range(0, 1024));
  g_command->add_flag("--json", f.json_output, "print one JSON object on stdout (docs/training.md)");
  g_command->footer(
      "The same photos and settings give the same dataset id: a second run finds the folder and "
      "does no work. Photos without a face, or with several (without --pick largest), are left "
      "out and listed. Exit codes: 0 ok, 1 failure, 2 usage.");
}

int RunPrepareCommand(const CLI::App& app) {
  (void)app;
  if (g_command && g_command->parsed()) return RunPrepare();
  return -1;
}

}  // namespace farm::agent
