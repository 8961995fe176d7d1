#include "render_commands.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "farm/agent/model_index.h"
#include "farm/agent/render_runner.h"
#include "farm/image/png_io.h"
#include "farm/schemas/data_dir.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"

#ifndef FARM_DEFAULT_CONFIG_DIR
#define FARM_DEFAULT_CONFIG_DIR ""
#endif
#ifndef FARM_DEFAULT_POSES_DIR
#define FARM_DEFAULT_POSES_DIR ""
#endif

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct RenderJobFlags {
  std::string models_dir;
  std::string face_models_dir;
  std::string config_dir;
  std::string poses_dir;
  std::string device = "cpu";
  uint64_t cache_mb = 8192;
  bool keep_stage_images = false;
  // render-params only
  std::string params_file;
  std::string output = "out.png";
  bool json_output = false;
  uint32_t threads = 1;
  // pixel-hash only
  std::vector<std::string> hash_files;
  bool hash_json = false;
};

RenderJobFlags g_flags;
CLI::App* g_render_params = nullptr;
CLI::App* g_pixel_hash = nullptr;

void AddSharedOptions(CLI::App& app) {
  app.add_option("--models-dir", g_flags.models_dir,
                 "models named by sha256 (default $STUDIOFARM_MODELS or ~/.cache/studiofarm/models)");
  app.add_option("--face-models-dir", g_flags.face_models_dir,
                 "face-api models (default <models-dir>/face-api/model)");
  app.add_option("--config-dir", g_flags.config_dir, "farm_configs folder (tones.yaml)");
  app.add_option("--poses-dir", g_flags.poses_dir, "pose library (<pose>.json)");
  app.add_option("--device", g_flags.device, "cpu, cuda or cuda:N");
  app.add_option("--model-cache-mb", g_flags.cache_mb, "memory budget of loaded models");
  app.add_flag("--keep-stage-images", g_flags.keep_stage_images,
               "also upload each stage's image");
}

// The index is built once per process: the render runner and the training kinds share it.
std::shared_ptr<const ModelIndex> g_index;

StatusOr<RenderRunnerOptions> MakeOptions() {
  RenderRunnerOptions options;
  FARM_ASSIGN_OR_RETURN(WorkerModels models, LoadWorkerModels());
  options.models = models.index;
  options.cache_budget_bytes = g_flags.cache_mb << 20;
  options.device = g_flags.device;
  options.keep_stage_images = g_flags.keep_stage_images;
  options.face_models_dir = models.face_models_dir;
  options.pose_models_dir = models.pose_models_dir;
  const std::string config = g_flags.config_dir.empty()
                                 ? DataDir("farm_configs", FARM_DEFAULT_CONFIG_DIR)
                                 : g_flags.config_dir;
  if (!config.empty()) options.tones_yaml = (fs::path(config) / "tones.yaml").string();
  options.poses_dir =
      g_flags.poses_dir.empty() ? DataDir("poses", FARM_DEFAULT_POSES_DIR) : g_flags.poses_dir;
  return options;
}

std::string PixelHash(const image::Image& image) {
  Sha256 hash;
  const std::string head = std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                           std::to_string(image.channels) + "\n";
  hash.Update(head);
  hash.Update(image.pixels.data(), image.pixels.size());
  return hash.FinishHex();
}

int RenderParamsCommand() {
  auto fail = [](const Status& status) {
    std::fprintf(stderr, "farm-agent render-params: %s\n", status.ToString().c_str());
    if (g_flags.json_output) {
      std::printf("%s\n", json({{"ok", false}, {"error", status.ToString()}}).dump(2).c_str());
    }
    return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
  };
  StatusOr<std::string> text = image::ReadFileBytes(g_flags.params_file);
  if (!text.ok()) return fail(text.status());
  StatusOr<RenderParams> params = RenderParamsFromJson(*text);
  if (!params.ok()) return fail(params.status().WithContext(g_flags.params_file));
  StatusOr<std::string> param_hash = ParamHash(*params);
  if (!param_hash.ok()) return fail(param_hash.status());
  StatusOr<RenderRunnerOptions> options = MakeOptions();
  if (!options.ok()) return fail(options.status());
  RenderRunner runner(std::move(*options));
  JobSpec spec;
  spec.kind = studiofarm::v1::JOB_KIND_RENDER;
  spec.param_hash = *param_hash;
  StatusOr<std::string> canonical = ToCanonicalJson(*params);
  if (!canonical.ok()) return fail(canonical.status());
  spec.params_json = *canonical;
  spec.compute_threads = g_flags.threads;
  CancellationToken cancel;
  JobOutcome outcome = runner.Run(spec, nullptr, cancel);
  if (outcome.status != JobStatus::kSucceeded) return fail(Internal(outcome.error));
  std::string png;
  for (const OutputArtifact& a : outcome.artifacts) {
    if (a.name == "image") png = a.bytes;
  }
  StatusOr<image::Image> decoded = image::DecodePng(png, "rendered PNG");
  if (!decoded.ok()) return fail(decoded.status());
  if (Status written = image::WriteFileBytes(g_flags.output, png); !written.ok()) return fail(written);
  const std::string pixel_hash = PixelHash(*decoded);
  if (g_flags.json_output) {
    json out = {{"ok", true},
                {"output", g_flags.output},
                {"param_hash", *param_hash},
                {"pixel_sha256", pixel_hash},
                {"png_sha256", Sha256Hex(png)},
                {"metrics", outcome.metrics}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s  pixel sha256 %s\n", g_flags.output.c_str(), pixel_hash.c_str());
  }
  return 0;
}

// farm-agent pixel-hash FILE...: the same hash render-params prints, of existing PNGs.
// One file: one JSON object (--json) as before; several: one JSON object per line, in
// order, so a caller compares many renders with one process. Exit 1 when any failed.
int PixelHashCommand() {
  const bool lines = g_flags.hash_files.size() > 1;
  int exit_code = 0;
  for (const std::string& file : g_flags.hash_files) {
    auto hashed = [&]() -> StatusOr<json> {
      FARM_ASSIGN_OR_RETURN(std::string png, image::ReadFileBytes(file));
      FARM_ASSIGN_OR_RETURN(image::Image decoded, image::DecodePng(png, file));
      return json{{"ok", true},
                  {"file", file},
                  {"width", decoded.width},
                  {"height", decoded.height},
                  {"channels", decoded.channels},
                  {"pixel_sha256", PixelHash(decoded)},
                  {"png_sha256", Sha256Hex(png)}};
    }();
    if (!hashed.ok()) {
      std::fprintf(stderr, "farm-agent pixel-hash: %s\n", hashed.status().ToString().c_str());
      const json error = {{"ok", false}, {"file", file}, {"error", hashed.status().ToString()}};
      if (g_flags.hash_json) std::printf("%s\n", error.dump(lines ? -1 : 2).c_str());
      const int code = hashed.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
      exit_code = std::max(exit_code, code);
      continue;
    }
    if (g_flags.hash_json) {
      std::printf("%s\n", hashed->dump(lines ? -1 : 2).c_str());
    } else {
      std::printf("%s  pixel sha256 %s\n", file.c_str(),
                  (*hashed)["pixel_sha256"].get<std::string>().c_str());
    }
  }
  return exit_code;
}

}  // namespace

void AddRenderCommands(CLI::App& app) {
  AddSharedOptions(app);
  g_render_params = app.add_subcommand(
      "render-params", "Render one canonical RenderParams JSON record as a render job would");
  g_render_params->add_option("PARAMS", g_flags.params_file, "params JSON file")->required();
  g_render_params->add_option("-o,--output", g_flags.output, "output PNG");
  g_render_params->add_flag("--json", g_flags.json_output, "machine-readable answer");
  g_render_params->add_option("--threads", g_flags.threads, "intra-op threads");
  AddSharedOptions(*g_render_params);
  g_pixel_hash = app.add_subcommand(
      "pixel-hash", "SHA-256 of a PNG's decoded pixels, as render-params reports it");
  g_pixel_hash->add_option("FILE", g_flags.hash_files,
                           "PNG files (several: one JSON object per line with --json)")
      ->required();
  g_pixel_hash->add_flag("--json", g_flags.hash_json, "machine-readable answer");
}

int RunRenderCommand(const CLI::App& app) {
  (void)app;
  if (g_pixel_hash != nullptr && g_pixel_hash->parsed()) return PixelHashCommand();
  if (g_render_params == nullptr || !g_render_params->parsed()) return -1;
  return RenderParamsCommand();
}

StatusOr<WorkerModels> LoadWorkerModels() {
  WorkerModels models;
  if (!g_index) {
    ModelIndexOptions index_options;
    index_options.models_dir = g_flags.models_dir.empty() ? DefaultModelsDir() : g_flags.models_dir;
    FARM_ASSIGN_OR_RETURN(ModelIndex index, ModelIndex::Build(index_options));
    if (!index.stats().cache_warning.empty()) {
      std::fprintf(stderr, "farm-agent: warning: %s\n", index.stats().cache_warning.c_str());
    }
    g_index = std::make_shared<const ModelIndex>(std::move(index));
  }
  models.index = g_index;
  std::string faces = g_flags.face_models_dir;
  if (faces.empty()) faces = (fs::path(g_index->models_dir()) / "face-api" / "model").string();
  std::error_code ec;
  if (fs::exists(fs::path(faces) / "ssd_mobilenetv1_model-weights_manifest.json", ec)) {
    models.face_models_dir = faces;
  }
  const fs::path pose = fs::path(g_index->models_dir()) / "human-models";
  if (fs::exists(pose / "movenet-multipose.json", ec)) models.pose_models_dir = pose.string();
  return models;
}

Status RegisterRenderRunner(RunnerRegistry& registry, std::shared_ptr<ArtifactFetcher> fetcher) {
  StatusOr<RenderRunnerOptions> render = MakeOptions();
  if (!render.ok()) {
    std::fprintf(stderr, "farm-agent: render jobs disabled: %s\n", render.status().ToString().c_str());
    return Status::Ok();
  }
  if (fetcher) render->trained_loras = std::make_shared<FetchedTrainedLoras>(std::move(fetcher));
  return registry.Register(std::make_unique<RenderRunner>(std::move(*render)));
}

}  // namespace farm::agent
