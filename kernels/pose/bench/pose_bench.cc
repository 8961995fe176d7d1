// bench_pose: the pose extraction's nets on photos, timed as tools/bench/pose/pose_bench.mjs
// times the same models in Node: MoveNet per photo (human's padding and resize + the net),
// the hand detector per photo (resize + the net) and the hand-landmark net per crop (the
// top K detector boxes as 224x224 crops), plus the whole ExtractPoses per photo. Prints one
// JSON object with the medians in milliseconds.
//
//   bench_pose --models DIR [--rounds N] [--crops K] [--threads T] PHOTO...
//
// --threads sets libtorch's intra-op threads (at::set_num_threads); without it libtorch
// keeps its default (omp_get_max_threads(): OMP_NUM_THREADS, else what OpenMP picks; 1 on
// the 2-core dev machine). The JSON says which count ran.
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/pose/extract.h"
#include "farm/pose/hand_decode.h"
#include "farm/pose/human_image.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Usage() {
  std::fprintf(stderr, "usage: bench_pose --models DIR [--rounds N] [--crops K] [--threads T] PHOTO...\n");
  return 2;
}

// The crop boxes of the K anchors with the best hand score (the 'face' column left out),
// as pose_bench.mjs picks them: the same amount of landmark work per photo.
std::vector<std::array<float, 4>> TopCrops(const farm::pose::HandDetectorNet::Output& out, int k) {
  std::vector<std::pair<float, int>> best;
  for (int a = 0; a < out.anchors; ++a) {
    float s = 0;
    for (int c = 0; c < 7; ++c) {
      if (c != 4) s = std::max(s, out.scores[a * 7 + c]);
    }
    best.emplace_back(s, a);
  }
  const int n = std::min<int>(k, static_cast<int>(best.size()));
  std::partial_sort(best.begin(), best.begin() + n, best.end(), [](auto& x, auto& y) { return x.first > y.first; });
  std::vector<std::array<float, 4>> crops;
  for (int i = 0; i < n; ++i) {
    const float* b = out.boxes.data() + best[i].second * 4;  // ymin, xmin, ymax, xmax
    const float w = b[3] - b[1], h = b[2] - b[0];
    const float x = b[1] - (1.4f * w - w) / 2, y = b[0] - (1.4f * h - h) / 2;
    crops.push_back({y, x, y + 1.4f * h, x + 1.4f * w});
  }
  return crops;
}

}  // namespace

int main(int argc, char** argv) {
  std::string models_dir;
  int rounds = 3, crops_per_photo = 4, threads = 0;
  std::vector<std::string> photos;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--models") {
      const char* v = value();
      if (!v) return Usage();
      models_dir = v;
    } else if (a == "--rounds" || a == "--crops" || a == "--threads") {
      const char* v = value();
      if (!v) return Usage();
      (a == "--rounds" ? rounds : a == "--crops" ? crops_per_photo : threads) = std::atoi(v);
    } else {
      photos.push_back(a);
    }
  }
  if (models_dir.empty() || photos.empty() || rounds < 1 || crops_per_photo < 1 || threads < 0)
    return Usage();
  if (threads > 0) at::set_num_threads(threads);

  auto models = farm::pose::PoseModels::Load(models_dir);
  if (!models.ok()) {
    std::fprintf(stderr, "bench_pose: %s\n", models.status().ToString().c_str());
    return 1;
  }
  std::vector<farm::faceid::RgbImage> images;
  for (const std::string& photo : photos) {
    auto decoded = farm::faceid::DecodeImageFile(photo);
    if (!decoded.ok()) {
      std::fprintf(stderr, "bench_pose: %s\n", decoded.status().ToString().c_str());
      return 1;
    }
    images.push_back(std::move(decoded->image));
  }

  std::vector<double> movenet_ms, detector_ms, landmark_ms, extract_ms;
  auto fail = [](const farm::Status& status) {
    std::fprintf(stderr, "bench_pose: %s\n", status.ToString().c_str());
    return 1;
  };
  for (int round = 0; round <= rounds; ++round) {  // round 0 warms up
    for (const farm::faceid::RgbImage& image : images) {
      const farm::pose::RgbView view{image.rgb.data(), image.width, image.height};
      Clock::time_point t0 = Clock::now();
      auto body = models->movenet->Run(farm::pose::MoveNetInput(view, 256), 256, 256);
      if (!body.ok()) return fail(body.status());
      const double m = Ms(t0);

      t0 = Clock::now();
      const farm::pose::InputSize size = farm::pose::HandDetectorInputSize(image.width, image.height);
      auto detected = models->hand_detector->Run(farm::pose::HandDetectorInput(view), size.height, size.width);
      if (!detected.ok()) return fail(detected.status());
      const double d = Ms(t0);

      const auto crops = TopCrops(*detected, crops_per_photo);
      t0 = Clock::now();
      for (const auto& box : crops) {
        auto out = models->hand_landmarks->Run(farm::pose::HandLandmarkInput(view, box, 224));
        if (!out.ok()) return fail(out.status());
      }
      const double l = Ms(t0) / static_cast<double>(crops.size());

      t0 = Clock::now();
      auto whole = farm::pose::ExtractPoses(image, *models);
      if (!whole.ok()) return fail(whole.status());
      const double e = Ms(t0);
      if (round > 0) {
        movenet_ms.push_back(m);
        detector_ms.push_back(d);
        landmark_ms.push_back(l);
        extract_ms.push_back(e);
      }
    }
  }
  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::printf(
      "{\"runtime\":\"libtorch CPU, %d intra-op thread%s (%s)\",\"photos\":%zu,\"rounds\":%d,"
      "\"crops_per_photo\":%d,\"median_ms\":{\"movenet_ms\":%.3f,\"hand_detector_ms\":%.3f,"
      "\"hand_landmarks_ms_per_crop\":%.3f,\"extract_poses_ms\":%.3f}}\n",
      at::get_num_threads(), at::get_num_threads() == 1 ? "" : "s",
      threads > 0 ? "--threads" : omp ? "OMP_NUM_THREADS" : "libtorch default", images.size(), rounds,
      crops_per_photo, Median(movenet_ms), Median(detector_ms), Median(landmark_ms),
      Median(extract_ms));
  return 0;
}
