#include "pipeline_fixture.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "farm/faceid/image_decode.h"
#include "farm/sd/tiny_model.h"

namespace farm::pipeline::testing {
namespace fs = std::filesystem;

namespace {
farm::sd::TinyModelFiles& Files() {
  static farm::sd::TinyModelFiles* files = [] {
    const fs::path dir = fs::temp_directory_path() / ("farm-pipeline-tiny-" + std::to_string(::getpid()));
    auto made = farm::sd::MakeTinyModel(dir.string(), 7);
    if (!made.ok()) {
      ADD_FAILURE() << made.status().ToString();
      std::abort();
    }
    return new farm::sd::TinyModelFiles(*made);
  }();
  return *files;
}

// Where tools/setup.sh puts the face-api package: $STUDIOFARM_MODELS/face-api, by default
// ~/.cache/studiofarm/models/face-api.
std::string FaceApiDir() {
  if (const char* env = std::getenv("STUDIOFARM_MODELS"); env != nullptr && *env != '\0') {
    return std::string(env) + "/face-api";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/studiofarm/models/face-api";
}
}  // namespace

std::string SourceDir() {
  if (const char* env = std::getenv("FARM_SOURCE_DIR")) return env;
  return FARM_TEST_SOURCE_DIR;
}

std::shared_ptr<farm::sd::Engine> TinyEngine() {
  static std::shared_ptr<farm::sd::Engine> engine = [] {
    farm::sd::EngineOptions options;
    options.checkpoint = Files().checkpoint;
    options.tokenizer_dir = Files().tokenizer_dir;
    options.threads = 1;  // ctest runs tests side by side on 2 cores; OpenMP spin-waits would fight
    auto loaded = farm::sd::Engine::Load(options);
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status().ToString();
      std::abort();
    }
    return std::shared_ptr<farm::sd::Engine>(std::move(*loaded));
  }();
  return engine;
}

ModelPaths TinyModels() {
  ModelPaths m;
  m.checkpoint = Files().checkpoint;
  m.tokenizer_dir = Files().tokenizer_dir;
  m.controlnets[kPoseControlSha] = Files().controlnet;
  m.controlnets[kTileControlSha] = Files().controlnet;
  m.face_models_dir = FaceApiDir() + "/model";
  m.poses_dir = SourceDir() + "/experiments/poses";
  m.tones_yaml = SourceDir() + "/farm_configs/tones.yaml";
  return m;
}

farm::RenderParams TinyParams() {
  farm::RenderParams p;
  p.prompt = "studio portrait photo of sks person";
  p.negative_prompt = "blurry, lowres";
  p.seed = 1234;
  p.sampler = "Euler a";
  p.scheduler = "normal";
  p.steps = 3;
  p.cfg = 7;
  p.clip_skip = 1;
  p.width = 64;
  p.height = 96;
  p.checkpoint_sha256 = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
  return p;
}

std::shared_ptr<const farm::faceid::FacePipeline> Faces() {
  static std::shared_ptr<const farm::faceid::FacePipeline> faces =
      []() -> std::shared_ptr<const farm::faceid::FacePipeline> {
    const std::string dir = FaceApiDir() + "/model";
    if (!fs::exists(dir + "/ssd_mobilenetv1_model-weights_manifest.json")) return nullptr;
    auto loaded = farm::faceid::FacePipeline::Load(dir);
    // Models that are there but do not load are a failure, never a reason to skip.
    if (!loaded.ok()) {
      ADD_FAILURE() << "face-api models in " << dir << " do not load: " << loaded.status().ToString();
      return nullptr;
    }
    return std::make_shared<const farm::faceid::FacePipeline>(std::move(*loaded));
  }();
  return faces;
}

farm::image::Image DemoPhoto(int n, int max_side) {
  const std::string path = FaceApiDir() + "/demo/sample" + std::to_string(n) + ".jpg";
  if (!fs::exists(path)) return {};
  farm::faceid::DecodeOptions options;
  options.max_side = max_side;
  auto decoded = farm::faceid::DecodeImageFile(path, options);
  if (!decoded.ok()) return {};
  farm::image::Image image;
  image.width = decoded->image.width;
  image.height = decoded->image.height;
  image.channels = 3;
  image.pixels = decoded->image.rgb;
  return image;
}

StageContext Context(const farm::RenderParams& params, const ModelPaths& models) {
  StageContext c;
  c.engine = TinyEngine().get();
  c.faces = Faces().get();
  c.params = &params;
  c.models = &models;
  return c;
}

double MeanChannel(const farm::image::Image& image, int c) {
  double sum = 0;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) sum += image.at(x, y)[c];
  }
  return sum / (static_cast<double>(image.width) * image.height);
}

farm::image::Image Gradient(int w, int h) {
  farm::image::Image image;
  image.width = w;
  image.height = h;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = image.at(x, y);
      p[0] = static_cast<uint8_t>(40 + 100 * x / w);
      p[1] = static_cast<uint8_t>(60 + 80 * y / h);
      p[2] = static_cast<uint8_t>(90);
    }
  }
  return image;
}

StatusOr<std::vector<Region>> FixedRegions::Find(const farm::faceid::RgbImage&, const std::string& target,
                                                 double min_confidence) const {
  targets.push_back(target);
  std::vector<Region> kept;
  for (const Region& r : regions_) {
    if (r.score >= min_confidence) kept.push_back(r);
  }
  return kept;
}

}  // namespace farm::pipeline::testing
