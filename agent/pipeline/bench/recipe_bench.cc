// bench_recipe: the whole portrait recipe (txt2img with a pose ControlNet and a LoRA,
// then a pipeline preset's stages: detailer, img2img, upscale, tone) on a random
// full-size SD 1.5 checkpoint, ControlNet and LoRA (generated here on first use, never
// committed). Prints the wall time of each stage, the time inside each model (text
// encoder, UNet, ControlNet, VAE) and the UNet's share of the total. The random model
// draws no face, so the detailer stages cost only their face detection here.
// See docs/BENCHMARKS.md for results.
#include <unistd.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "farm/faceid/pipeline.h"
#include "farm/pipeline/recipe.h"
#include "farm/schemas/render_params.h"
#include "farm/sd/architecture.h"
#include "farm/sd/engine.h"
#include "farm/sd/tiny_model.h"
#include "farm/sd/tiny_tokenizer.h"
#include "farm/sweep/preset_files.h"

#ifndef FARM_DEFAULT_CONFIG_DIR
#define FARM_DEFAULT_CONFIG_DIR ""
#endif
#ifndef FARM_DEFAULT_POSES_DIR
#define FARM_DEFAULT_POSES_DIR ""
#endif

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string dir;  // generated models
  std::string config_dir = FARM_DEFAULT_CONFIG_DIR;
  std::string poses_dir = FARM_DEFAULT_POSES_DIR;
  std::string face_models_dir;
  std::string pipeline = "studio";
  std::string tone = "warm";
  std::string sampler = "DPM++ 2M Karras";
  int threads = 0;
  int steps = 20;
  int width = 512, height = 768;
};

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Fail(const farm::Status& status) {
  std::fprintf(stderr, "bench_recipe: %s\n", status.ToString().c_str());
  return 1;
}

// The random models, made once: the same checkpoint file bench_engine uses.
farm::Status EnsureModels(const std::string& dir) {
  const farm::sd::SdArchitecture arch = farm::sd::Sd15Architecture();
  fs::create_directories(dir);
  auto make = [&](const std::string& name, const std::string& what, auto write) -> farm::Status {
    const std::string path = (fs::path(dir) / name).string();
    if (fs::exists(path)) return farm::Status::Ok();
    std::printf("generating %s at %s (not committed)\n", what.c_str(), path.c_str());
    std::fflush(stdout);
    return write(path);
  };
  FARM_RETURN_IF_ERROR(make("sd15-random-fp32.safetensors", "a random SD 1.5 checkpoint (~4.3 GB)",
                            [&](const std::string& p) {
                              return farm::sd::WriteRandomCheckpoint(p, arch, 1, at::kFloat);
                            }));
  FARM_RETURN_IF_ERROR(make("sd15-random-controlnet-fp32.safetensors", "a random ControlNet (~1.4 GB)",
                            [&](const std::string& p) {
                              return farm::sd::WriteRandomControlNet(p, arch, {}, 1, at::kFloat);
                            }));
  FARM_RETURN_IF_ERROR(make("sd15-random-lora-r16.safetensors", "a random rank-16 LoRA",
                            [&](const std::string& p) { return farm::sd::WriteRandomLora(p, arch, 1, 16); }));
  if (!fs::exists(fs::path(dir) / "tokenizer")) {
    FARM_RETURN_IF_ERROR(farm::sd::WriteTinyTokenizerFiles((fs::path(dir) / "tokenizer").string(), 1000));
  }
  return farm::Status::Ok();
}

// The render as a sweep would record it: the preset's stages, the tone's grade.
farm::StatusOr<farm::RenderParams> MakeParams(const Flags& flags) {
  farm::sweep::SpecPresets presets;
  std::vector<farm::sweep::Diagnostic> problems;
  FARM_RETURN_IF_ERROR(farm::sweep::LoadPresetFiles(flags.config_dir, &presets, &problems));
  if (!problems.empty()) return farm::InvalidArgument(problems.front().ToString());
  auto pipeline = presets.pipelines.find(flags.pipeline);
  if (pipeline == presets.pipelines.end()) {
    return farm::NotFound("no pipeline preset '" + flags.pipeline + "' in " + flags.config_dir);
  }
  auto tone = presets.tones.find(flags.tone);
  if (tone == presets.tones.end()) return farm::NotFound("no tone preset '" + flags.tone + "'");
  farm::RenderParams p;
  p.prompt = "studio portrait photo of sks person, head and shoulders, " + tone->second.prompt;
  p.negative_prompt = "blurry, lowres, watermark";
  p.sampler = flags.sampler;
  p.steps = flags.steps;
  p.cfg = 7;
  p.clip_skip = 1;
  p.seed = 1;
  p.width = flags.width;
  p.height = flags.height;
  p.tone = flags.tone;
  p.pose = "head_and_shoulders";
  // Placeholder hashes: the bench hands the engine its files directly, not through an index.
  p.checkpoint_sha256 = std::string(64, '0');
  p.loras.push_back({"sha256:" + std::string(64, '1'), 0.8});
  p.controlnets.push_back({std::string(64, '2'), "pose:head_and_shoulders", 1.0, 0.0, 1.0});
  p.stages = pipeline->second;
  for (farm::StageSettings& stage : p.stages) {
    if (stage.kind != "tone") continue;
    stage.settings.try_emplace("white_balance_shift", tone->second.white_balance_shift);
    stage.settings.try_emplace("saturation", tone->second.saturation);
    stage.settings.try_emplace("contrast", tone->second.contrast);
    stage.settings.try_emplace("strength", tone->second.strength);
  }
  return p;
}

int Run(const Flags& flags) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  double load[3] = {};
  getloadavg(load, 3);
  if (auto made = EnsureModels(flags.dir); !made.ok()) return Fail(made);
  auto params = MakeParams(flags);
  if (!params.ok()) return Fail(params.status());

  farm::pipeline::ModelPaths paths;
  paths.checkpoint = (fs::path(flags.dir) / "sd15-random-fp32.safetensors").string();
  paths.loras.push_back({(fs::path(flags.dir) / "sd15-random-lora-r16.safetensors").string(), 0.8});
  paths.controlnets[params->controlnets[0].model_sha256] =
      (fs::path(flags.dir) / "sd15-random-controlnet-fp32.safetensors").string();
  paths.poses_dir = flags.poses_dir;
  paths.tones_yaml = (fs::path(flags.config_dir) / "tones.yaml").string();

  const auto load_start = Clock::now();
  farm::sd::EngineOptions engine_options;
  engine_options.checkpoint = paths.checkpoint;
  engine_options.threads = flags.threads;
  auto engine = farm::sd::Engine::Load(engine_options);
  if (!engine.ok()) return Fail(engine.status());
  std::shared_ptr<const farm::faceid::FacePipeline> faces;
  if (!flags.face_models_dir.empty()) {
    auto loaded = farm::faceid::FacePipeline::Load(flags.face_models_dir);
    if (!loaded.ok()) return Fail(loaded.status());
    faces = std::make_shared<const farm::faceid::FacePipeline>(std::move(*loaded));
  }
  const double load_seconds = Seconds(load_start, Clock::now());
  if (!faces) {
    std::erase_if(params->stages, [](const farm::StageSettings& s) { return s.kind == "detailer"; });
    std::printf("no face models: the detailer stages are left out\n");
  }
  std::printf("machine: %s, %ld cores online, %d intra-op threads, load average %.2f %.2f %.2f\n", host,
              sysconf(_SC_NPROCESSORS_ONLN), at::get_num_threads(), load[0], load[1], load[2]);
  std::printf("recipe: %dx%d, %s, %d steps, pipeline '%s', tone '%s', pose ControlNet, LoRA r16 "
              "at 0.8, fp32; models loaded in %.1f s\n",
              flags.width, flags.height, flags.sampler.c_str(), flags.steps, flags.pipeline.c_str(),
              flags.tone.c_str(), load_seconds);
  std::fflush(stdout);

  // Stage boundaries from the recipe's progress calls.
  std::vector<std::pair<std::string, double>> stages;
  std::string current;
  Clock::time_point stage_start = Clock::now();
  farm::pipeline::RecipeOptions options;
  options.param_hash = "bench";
  options.progress = [&](const std::string& stage, int, int) {
    if (stage == current) return;
    const auto now = Clock::now();
    if (!current.empty()) {
      stages.push_back({current, Seconds(stage_start, now)});
      std::printf("  %s: %.1f s\n", current.c_str(), stages.back().second);  // a long run shows progress
      std::fflush(stdout);
    }
    current = stage;
    stage_start = now;
  };
  farm::pipeline::RecipeRunner runner(std::shared_ptr<farm::sd::Engine>(std::move(*engine)), faces);
  const auto start = Clock::now();
  auto result = runner.Run(*params, paths, options);
  const auto end = Clock::now();
  if (!result.ok()) return Fail(result.status());
  if (!current.empty()) stages.push_back({current, Seconds(stage_start, end)});
  const double total = Seconds(start, end);

  std::printf("%-14s %10s %7s\n", "stage", "seconds", "share");
  for (const auto& [stage, seconds] : stages) {
    std::printf("%-14s %10.1f %6.1f%%\n", stage.c_str(), seconds, 100.0 * seconds / total);
  }
  std::printf("%-14s %10.1f %6.1f%%   (final image %dx%d, %d faces detailed)\n", "total", total, 100.0,
              result->image.width, result->image.height, result->faces_detailed);
  std::printf("%-14s %10s %7s\n", "inside model", "seconds", "share");
  for (const char* model : {"unet", "controlnet", "vae", "text"}) {
    const double seconds = result->model_seconds.at(model);
    std::printf("%-14s %10.1f %6.1f%%\n", model, seconds, 100.0 * seconds / total);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  const char* home = std::getenv("HOME");
  const std::string cache = std::string(home ? home : "/tmp") + "/.cache/studiofarm";
  flags.dir = cache + "/bench";
  const char* models = std::getenv("STUDIOFARM_MODELS");
  flags.face_models_dir = std::string(models && *models ? models : cache + "/models") + "/face-api/model";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_recipe: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--dir") flags.dir = value();
    else if (arg == "--config-dir") flags.config_dir = value();
    else if (arg == "--poses-dir") flags.poses_dir = value();
    else if (arg == "--face-models-dir") flags.face_models_dir = value();
    else if (arg == "--pipeline") flags.pipeline = value();
    else if (arg == "--tone") flags.tone = value();
    else if (arg == "--sampler") flags.sampler = value();
    else if (arg == "--threads") flags.threads = std::stoi(value());
    else if (arg == "--steps") flags.steps = std::stoi(value());
    else if (arg == "--size") {
      const std::string size = value();
      flags.width = std::stoi(size.substr(0, size.find('x')));
      flags.height = std::stoi(size.substr(size.find('x') + 1));
    } else {
      std::fprintf(stderr,
                   "usage: bench_recipe [--dir D] [--steps N] [--size WxH] [--threads N] [--pipeline NAME]\n"
                   "       [--tone NAME] [--sampler NAME] [--config-dir D] [--poses-dir D] "
                   "[--face-models-dir D]\n"
                   "  D (default ~/.cache/studiofarm/bench) gets the random models on first use;\n"
                   "  without face models (--face-models-dir '') the detailer stages are left out.\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (flags.threads > 0) at::set_num_threads(flags.threads);
  if (!flags.face_models_dir.empty() && !fs::exists(flags.face_models_dir)) {
    std::fprintf(stderr, "bench_recipe: no face models at %s (run tools/setup.sh or pass --face-models-dir)\n",
                 flags.face_models_dir.c_str());
    return 1;
  }
  return Run(flags);
}
