// bench_faceid: the face pipeline (kernels/faceid: detect + landmarks + descriptors, as
// face-api's detectAllFaces(SsdMobilenetv1).withFaceLandmarks().withFaceDescriptors())
// per stage, on face-api's six demo photos, after model load. tools/bench/faceid/run.sh
// runs it beside face-api in Node and prints the ratio.
//
//   bench_faceid [--models DIR] [--rounds N] [--sweep N] [--threads N] [--workers N]
//
// --models: the models root (default $STUDIOFARM_MODELS, else ~/.cache/studiofarm/models)
//   holding face-api/model (the three manifests) and face-api/demo/sample1..6.jpg.
// Photos: every round decodes each JPEG from memory (libjpeg, the pipeline's decoder) and
//   analyses it; one untimed warm-up pass comes first. Stages: decode, detector (512x512
//   input + SSD + NMS), landmarks (crop + 112x112 input + net), descriptor (alignment +
//   150x150 input + ResNet-34).
// Sweep (--sweep N, default 1000; 0 skips it): N renders of 512x768 with one face each,
//   made from the demo faces (a 2:3 region around each detected face, bilinear-resized to
//   512x768, cycled). Each render goes through the whole pipeline from its pixels (detect,
//   landmarks, descriptor; no PNG decode), as descriptors for a sweep's renders need,
//   on --workers threads (default 2, the cores here), each with one libtorch thread.
// --threads: libtorch intra-op threads for the photos (default: libtorch's choice).
// The last lines are `key=value` pairs for run.sh.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"

namespace {

namespace fs = std::filesystem;
using farm::faceid::RgbImage;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string models;
  int rounds = 2;
  int sweep = 1000;
  int threads = 0;  // 0: libtorch's default
  int workers = 2;  // sweep threads
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--models") {
      args->models = value;
    } else if (flag == "--rounds") {
      args->rounds = std::atoi(value.c_str());
    } else if (flag == "--sweep") {
      args->sweep = std::atoi(value.c_str());
    } else if (flag == "--workers") {
      args->workers = std::atoi(value.c_str());
    } else if (flag == "--threads") {
      args->threads = std::atoi(value.c_str());
    } else {
      return false;
    }
  }
  return args->rounds >= 1 && args->sweep >= 0 && args->threads >= 0 && args->workers >= 1;
}

std::string DefaultModelsRoot() {
  if (const char* env = std::getenv("STUDIOFARM_MODELS"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/studiofarm/models";
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bilinear resize of region (x, y, w, h) of `image` to out_w x out_h (only the sweep's
// synthetic renders use it; its quality does not matter).
RgbImage ResizeRegion(const RgbImage& image, double x, double y, double w, double h, int out_w,
                      int out_h) {
  RgbImage out;
  out.width = out_w;
  out.height = out_h;
  out.rgb.resize(static_cast<size_t>(out_w) * out_h * 3);
  for (int r = 0; r < out_h; ++r) {
    const double fy = std::clamp(y + (r + 0.5) * h / out_h - 0.5, 0.0, image.height - 1.0);
    const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, image.height - 1);
    const double wy = fy - y0;
    for (int c = 0; c < out_w; ++c) {
      const double fx = std::clamp(x + (c + 0.5) * w / out_w - 0.5, 0.0, image.width - 1.0);
      const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, image.width - 1);
      const double wx = fx - x0;
      for (int ch = 0; ch < 3; ++ch) {
        const auto at = [&](int yy, int xx) {
          return static_cast<double>(image.rgb[(static_cast<size_t>(yy) * image.width + xx) * 3 + ch]);
        };
        const double top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * wx;
        const double bot = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * wx;
        out.rgb[(static_cast<size_t>(r) * out_w + c) * 3 + ch] =
            static_cast<uint8_t>(std::lround(top + (bot - top) * wy));
      }
    }
  }
  return out;
}

// A 512x768 portrait around `box`: 2 face widths wide, 3:2 tall, the face in the upper
// middle, shifted (and if need be shrunk) to stay inside the photo.
RgbImage PortraitAround(const RgbImage& photo, const farm::faceid::Box& box) {
  double w = 2.0 * std::max(box.width, box.height);
  double h = 1.5 * w;
  const double scale = std::min({1.0, photo.width / w, photo.height / h});
  w *= scale;
  h *= scale;
  const double x = std::clamp(box.x + box.width / 2 - w / 2, 0.0, photo.width - w);
  const double y = std::clamp(box.y + box.height / 2 - 0.4 * h, 0.0, photo.height - h);
  return ResizeRegion(photo, x, y, w, h, 512, 768);
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::cerr << "usage: bench_faceid [--models DIR] [--rounds N>=1] [--sweep N>=0] [--threads N] [--workers N>=1]\n";
    return 2;
  }
  if (args.models.empty()) args.models = DefaultModelsRoot();
  if (args.threads > 0) at::set_num_threads(args.threads);
  const std::string model_dir = args.models + "/face-api/model";
  const std::string demo_dir = args.models + "/face-api/demo";

  std::vector<std::string> names;
  std::vector<std::string> jpegs;
  for (int i = 1; i <= 6; ++i) {
    const std::string path = demo_dir + "/sample" + std::to_string(i) + ".jpg";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "bench_faceid: " << path
                << " not found (npm pack @vladmandic/face-api@1.7.15; package/demo)\n";
      return 1;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    names.push_back("sample" + std::to_string(i));
    jpegs.push_back(bytes.str());
  }

  auto start = Clock::now();
  auto pipeline = farm::faceid::FacePipeline::Load(model_dir);
  if (!pipeline.ok()) {
    std::cerr << "bench_faceid: " << pipeline.status().ToString() << "\n";
    return 1;
  }
  const double load_s = Since(start);
  std::printf("face pipeline: %s, model load %.3f s, libtorch %d intra-op threads, mkldnn %s\n",
              model_dir.c_str(), load_s, at::get_num_threads(),
              at::hasMKLDNN() ? (at::globalContext().userEnabledMkldnn() ? "on" : "off")
                              : "not built");

  // Warm-up: one untimed pass; keeps the decoded photos and their faces for the sweep.
  std::vector<RgbImage> photos;
  std::vector<std::vector<farm::faceid::Face>> photo_faces;
  for (size_t i = 0; i < jpegs.size(); ++i) {
    auto decoded = farm::faceid::DecodeImageBytes(jpegs[i], {}, names[i]);
    if (!decoded.ok()) {
      std::cerr << "bench_faceid: " << decoded.status().ToString() << "\n";
      return 1;
    }
    auto faces = pipeline->Analyze(decoded->image);
    if (!faces.ok()) {
      std::cerr << "bench_faceid: " << faces.status().ToString() << "\n";
      return 1;
    }
    photos.push_back(std::move(decoded->image));
    photo_faces.push_back(std::move(*faces));
  }

  double decode_s = 0;
  farm::faceid::StageTimes times;
  farm::faceid::AnalyzeOptions options;
  options.times = &times;
  start = Clock::now();
  const std::clock_t cpu_start = std::clock();
  for (int round = 0; round < args.rounds; ++round) {
    for (size_t i = 0; i < jpegs.size(); ++i) {
      const auto decode_start = Clock::now();
      auto decoded = farm::faceid::DecodeImageBytes(jpegs[i], {}, names[i]);
      decode_s += Since(decode_start);
      if (!decoded.ok()) return 1;
      auto faces = pipeline->Analyze(decoded->image, options);
      if (!faces.ok()) {
        std::cerr << "bench_faceid: " << faces.status().ToString() << "\n";
        return 1;
      }
    }
  }
  const double total_s = Since(start);
  const double cpu_s = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const int photos_done = args.rounds * static_cast<int>(jpegs.size());
  std::printf("\n%d photos (six demo photos x %d rounds), %lld faces, after model load:\n",
              photos_done, args.rounds, static_cast<long long>(times.faces));
  std::printf("  %-18s %10s %12s\n", "stage", "total s", "ms/photo");
  const auto row = [&](const char* name, double s) {
    std::printf("  %-18s %10.3f %12.1f\n", name, s, 1000.0 * s / photos_done);
  };
  row("decode", decode_s);
  row("detector", times.detector);
  row("landmarks", times.landmarks);
  row("descriptor", times.descriptor);
  row("total", total_s);
  row("cpu (all threads)", cpu_s);
  std::printf("  faces/s %.2f (landmarks %.1f ms/face, descriptor %.1f ms/face)\n",
              times.faces / total_s, 1000.0 * times.landmarks / std::max<int64_t>(times.faces, 1),
              1000.0 * times.descriptor / std::max<int64_t>(times.faces, 1));

  const int photo_threads = at::get_num_threads();
  double sweep_s = 0, sweep_cpu_s = 0;
  int64_t sweep_faces = 0;
  if (args.sweep > 0) {
    std::vector<RgbImage> renders;
    for (size_t i = 0; i < photos.size(); ++i) {
      for (const auto& face : photo_faces[i]) renders.push_back(PortraitAround(photos[i], face.box));
    }
    if (renders.empty()) {
      std::cerr << "bench_faceid: no face in the demo photos to build renders from\n";
      return 1;
    }
    // Workers share the pipeline (Analyze is const); with several, each runs libtorch on
    // one thread (renders in parallel rather than ops: the tensors are small).
    if (args.workers > 1) at::set_num_threads(1);
    std::vector<int64_t> found(args.workers, 0);
    std::vector<int> failed(args.workers, 0);
    const auto work = [&](int worker) {
      for (int i = worker; i < args.sweep; i += args.workers) {
        auto faces = pipeline->Analyze(renders[i % renders.size()]);
        if (!faces.ok()) {
          failed[worker] = 1;
          return;
        }
        found[worker] += static_cast<int64_t>(faces->size());
      }
    };
    start = Clock::now();
    const std::clock_t sweep_cpu_start = std::clock();
    std::vector<std::thread> threads;
    for (int w = 1; w < args.workers; ++w) threads.emplace_back(work, w);
    work(0);
    for (std::thread& t : threads) t.join();
    sweep_s = Since(start);
    for (int w = 0; w < args.workers; ++w) {
      if (failed[w]) return 1;
      sweep_faces += found[w];
    }
    sweep_cpu_s = static_cast<double>(std::clock() - sweep_cpu_start) / CLOCKS_PER_SEC;
    std::printf("\nsweep: %d renders of 512x768 (%zu distinct portraits of the demo faces), "
                "detect + landmarks + descriptor each, %d worker%s x %d libtorch thread%s: "
                "%.2f s (cpu %.2f s), %.1f ms/render, %lld descriptors\n",
                args.sweep, renders.size(), args.workers, args.workers == 1 ? "" : "s",
                at::get_num_threads(), at::get_num_threads() == 1 ? "" : "s", sweep_s, sweep_cpu_s, 1000.0 * sweep_s / args.sweep,
                static_cast<long long>(sweep_faces));
  }

  std::printf("\nthreads=%d\nworkers=%d\nphotos=%d\nfaces=%lld\ndecode_s=%s\ndetector_s=%s\nlandmarks_s=%s\n"
              "descriptor_s=%s\ntotal_s=%s\ncpu_s=%s\nsweep_renders=%d\nsweep_descriptors=%lld\nsweep_s=%s\n",
              photo_threads, args.workers, photos_done, static_cast<long long>(times.faces),
              Fixed(decode_s, 4).c_str(), Fixed(times.detector, 4).c_str(),
              Fixed(times.landmarks, 4).c_str(), Fixed(times.descriptor, 4).c_str(),
              Fixed(total_s, 4).c_str(), Fixed(cpu_s, 4).c_str(), args.sweep, static_cast<long long>(sweep_faces),
              Fixed(sweep_s, 4).c_str());
  return 0;
}
