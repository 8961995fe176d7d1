// profile_pose: where each pose net's time goes. Runs the three human-models graphs on one
// photo's inputs (as bench_pose feeds them) with GraphModel::Run's per-op timing and prints,
// per net, the median wall time and the summed milliseconds of each op over the rounds.
//
//   profile_pose --models DIR [--rounds N] [--threads N] PHOTO
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/pose/graph_model.h"
#include "farm/pose/human_image.h"

namespace {

using Clock = std::chrono::steady_clock;

int Usage() {
  std::fprintf(stderr, "usage: profile_pose --models DIR [--rounds N] [--threads N] PHOTO\n");
  return 2;
}

void Report(const char* net, std::vector<double> ms, const std::map<std::string, double>& by_op,
            int rounds) {
  std::sort(ms.begin(), ms.end());
  std::printf("%s: median %.2f ms per run\n", net, ms[ms.size() / 2]);
  std::vector<std::pair<double, std::string>> ops;
  double total = 0;
  for (const auto& [op, t] : by_op) {
    ops.emplace_back(t / rounds, op);
    total += t / rounds;
  }
  std::sort(ops.rbegin(), ops.rend());
  for (const auto& [t, op] : ops) std::printf("  %-28s %8.3f ms\n", op.c_str(), t);
  std::printf("  %-28s %8.3f ms\n", "(sum of ops)", total);
}

}  // namespace

int main(int argc, char** argv) {
  std::string models_dir, photo;
  int rounds = 5, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--models" || a == "--rounds" || a == "--threads") && i + 1 < argc) {
      const char* v = argv[++i];
      if (a == "--models") models_dir = v;
      else (a == "--rounds" ? rounds : threads) = std::atoi(v);
    } else {
      photo = a;
    }
  }
  if (models_dir.empty() || photo.empty() || rounds < 1) return Usage();
  if (threads > 0) at::set_num_threads(threads);
  std::printf("intra-op threads: %d\n", at::get_num_threads());

  auto decoded = farm::faceid::DecodeImageFile(photo);
  if (!decoded.ok()) {
    std::fprintf(stderr, "profile_pose: %s\n", decoded.status().ToString().c_str());
    return 1;
  }
  const farm::faceid::RgbImage& image = decoded->image;
  const farm::pose::RgbView view{image.rgb.data(), image.width, image.height};
  const farm::pose::InputSize size = farm::pose::HandDetectorInputSize(image.width, image.height);

  struct Case {
    const char* net;
    const char* file;
    std::vector<std::pair<std::string, farm::pose::HostTensor>> inputs;
    std::vector<std::string> outputs;
  };
  {  // the C++ preprocessing bench_pose times with each net
    auto time = [](auto&& f) {
      std::vector<double> ms;
      for (int r = 0; r < 5; ++r) {
        const auto t0 = Clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      return ms[2];
    };
    const std::array<float, 4> crop{0.3f, 0.3f, 0.6f, 0.6f};
    std::printf("preprocessing (%dx%d photo): MoveNetInput %.2f ms, HandDetectorInput (%dx%d) %.2f ms, "
                "HandLandmarkInput %.2f ms\n",
                image.width, image.height, time([&] { farm::pose::MoveNetInput(view, 256); }),
                size.width, size.height, time([&] { farm::pose::HandDetectorInput(view); }),
                time([&] { farm::pose::HandLandmarkInput(view, crop, 224); }));
  }
  std::vector<Case> cases;
  cases.push_back({"movenet", "movenet-multipose.json",
                   {{"input", farm::pose::HostTensor::Int({1, 256, 256, 3}, farm::pose::MoveNetInput(view, 256))}},
                   {"Identity"}});
  cases.push_back({"hand detector", "handtrack.json",
                   {{"input_tensor", farm::pose::HostTensor::Int({1, size.height, size.width, 3},
                                                                 farm::pose::HandDetectorInput(view))}},
                   {"StatefulPartitionedCall/Postprocessor/Slice",
                    "StatefulPartitionedCall/Postprocessor/ExpandDims_1"}});
  const std::array<float, 4> box{0.3f, 0.3f, 0.6f, 0.6f};
  cases.push_back({"hand landmarks", "handlandmark-lite.json",
                   {{"input_1", farm::pose::HostTensor::Float({1, 224, 224, 3},
                                                              farm::pose::HandLandmarkInput(view, box, 224))}},
                   {"Identity", "Identity_1", "Identity_2"}});
  for (const Case& c : cases) {
    auto model = farm::pose::GraphModel::Load(models_dir + "/" + c.file);
    if (!model.ok()) {
      std::fprintf(stderr, "profile_pose: %s\n", model.status().ToString().c_str());
      return 1;
    }
    std::map<std::string, double> by_op;
    std::vector<double> ms;
    for (int r = 0; r <= rounds; ++r) {  // run 0 warms up
      std::map<std::string, double> one;
      const auto t0 = Clock::now();
      auto out = (*model)->Run(c.inputs, c.outputs, r > 0 ? &one : nullptr);
      const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (!out.ok()) {
        std::fprintf(stderr, "profile_pose: %s\n", out.status().ToString().c_str());
        return 1;
      }
      if (r == 0) continue;
      ms.push_back(t);
      for (const auto& [op, v] : one) by_op[op] += v;
    }
    Report(c.net, ms, by_op, rounds);
  }
  return 0;
}
