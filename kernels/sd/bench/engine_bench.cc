// bench_engine: the render engine on a random full-size SD 1.5 checkpoint (generated
// here, never committed). In one run it measures
//   1. the machine's own peak: a 3x3 convolution and a matrix product, GFLOP/s;
//   2. UNet forward at a 64x64 latent, batch 2 (CFG): ms per call, GFLOP/s (FLOPs
//      counted from the architecture) and the fraction of the measured peak;
//   3. a full txt2img render (default 512x768, 20 steps) in a fresh child process:
//      wall time and that process's peak RSS.
// With --cancel-after-step k (render mode) the render is cancelled at step k instead: the
// cancel is raised from the progress callback when step k is reported, or, with
// --cancel-delay f, from another thread f sampler steps later (inside step k + 1); it
// prints the time from the request to Render returning next to one step's time.
// See docs/BENCHMARKS.md for results and how to read them.
#include <sys/resource.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "farm/sd/architecture.h"
#include "farm/sd/checkpoint.h"
#include "farm/sd/engine.h"
#include "farm/sd/model_hints.h"
#include "farm/sd/tiny_model.h"
#include "farm/sd/tiny_tokenizer.h"
#include "farm/sd/unet.h"

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string checkpoint;
  std::string mode = "all";  // all | unet (peaks and UNet only) | render (the child)
  int threads = 0;
  int64_t width = 512, height = 768, steps = 20;
  int unet_calls = 3;
  int64_t cancel_after_step = 0;  // 0: render to the end
  double cancel_delay = 0;        // in sampler steps after step cancel_after_step is reported
};

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds this process has used so far: user and system (page faults, zero-filling
// freshly mapped memory).
std::pair<double, double> CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

double PeakRssGiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

// Best of `reps` timings of `fn`, in seconds.
template <typename Fn>
double BestOf(int reps, Fn fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    fn();
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  return best;
}

double MeasureConvPeak() {
  at::Tensor x = at::randn({2, 320, 64, 64});
  at::Tensor w = at::randn({320, 320, 3, 3});
  const double flops = 2.0 * 2 * 320 * 320 * 9 * 64 * 64;
  at::conv2d(x, w, {}, 1, 1);  // warm-up
  return flops / BestOf(5, [&] { at::conv2d(x, w, {}, 1, 1); }) / 1e9;
}

double MeasureMatmulPeak() {
  at::Tensor a = at::randn({2048, 2048});
  at::Tensor b = at::randn({2048, 2048});
  const double flops = 2.0 * 2048 * 2048 * 2048;
  at::mm(a, b);
  return flops / BestOf(5, [&] { at::mm(a, b); }) / 1e9;
}

// Multiply-adds of one UNet forward, counted from the architecture: every convolution
// and linear at the resolution it runs at, plus the attention products. Element-wise
// work (norms, activations, softmax) is left out: it is a few percent of the total.
double UNetForwardFlops(const farm::sd::UNetArchitecture& arch, int64_t h, int64_t w, int64_t batch,
                        int64_t context_tokens) {
  const int64_t levels = static_cast<int64_t>(arch.block_channels.size());
  double flops = 0;
  for (const auto& [name, shape] : farm::sd::UNetWeightShapes(arch)) {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    if (shape.size() != 2 && shape.size() != 4) continue;
    int64_t level = 0;
    auto index_after = [&](const std::string& prefix) { return std::stoll(name.substr(prefix.size())); };
    if (name.rfind("down_blocks.", 0) == 0) {
      level = index_after("down_blocks.");
      if (name.find("downsamplers") != std::string::npos) level += 1;  // stride 2: output size
    } else if (name.rfind("up_blocks.", 0) == 0) {
      level = levels - 1 - index_after("up_blocks.");
      if (name.find("upsamplers") != std::string::npos) level -= 1;  // after the 2x upsample
    } else if (name.rfind("mid_block.", 0) == 0) {
      level = levels - 1;
    }
    const double pixels = static_cast<double>(h >> level) * static_cast<double>(w >> level);
    double tokens = pixels;
    if (name.rfind("time_embedding", 0) == 0 || name.find("time_emb_proj") != std::string::npos) tokens = 1;
    if (name.find("attn2.to_k") != std::string::npos || name.find("attn2.to_v") != std::string::npos) {
      tokens = static_cast<double>(context_tokens);
    }
    double macs_per_token = 1;
    for (int64_t d : shape) macs_per_token *= static_cast<double>(d);
    flops += 2.0 * macs_per_token * tokens;
    // Attention products QK^T and AV, counted once per transformer at its to_q.
    if (name.find("attn1.to_q") != std::string::npos) flops += 2.0 * 2.0 * pixels * pixels * shape[0];
    if (name.find("attn2.to_q") != std::string::npos) flops += 2.0 * 2.0 * pixels * context_tokens * shape[0];
  }
  return flops * static_cast<double>(batch);
}

int Fail(const farm::Status& status) {
  std::fprintf(stderr, "bench_engine: %s\n", status.ToString().c_str());
  return 1;
}

// The checkpoint and a tokenizer next to it, made once.
farm::Status EnsureCheckpoint(const std::string& path) {
  if (fs::exists(path)) return farm::Status::Ok();
  std::printf("generating a random full-size SD 1.5 checkpoint at %s (fp32, ~4.3 GB, not committed)\n",
              path.c_str());
  std::fflush(stdout);
  fs::create_directories(fs::path(path).parent_path());
  auto t0 = Clock::now();
  FARM_RETURN_IF_ERROR(farm::sd::WriteRandomCheckpoint(path, farm::sd::Sd15Architecture(), 1, at::kFloat));
  FARM_RETURN_IF_ERROR(farm::sd::WriteTinyTokenizerFiles((fs::path(path).parent_path() / "tokenizer").string(), 1000));
  std::printf("generated in %.1f s\n", Seconds(t0, Clock::now()));
  return farm::Status::Ok();
}

// Renders `request` cancelling it at flags.cancel_after_step (+ cancel_delay steps) and
// reports the cancel latency: request -> Render returning.
int RunCancelledRender(const Flags& flags, farm::sd::Engine& engine, farm::sd::RenderRequest request,
                       Clock::time_point start) {
  std::atomic<bool> cancel{false};
  Clock::time_point requested{};
  std::vector<Clock::time_point> step_ends;
  std::thread raiser;
  request.cancelled = [&cancel] { return cancel.load(std::memory_order_acquire); };
  auto raise = [&] {
    requested = Clock::now();
    cancel.store(true, std::memory_order_release);
  };
  auto on_progress = [&](int64_t done, int64_t) {
    step_ends.push_back(Clock::now());
    if (done != flags.cancel_after_step) return;
    if (flags.cancel_delay <= 0) return raise();
    // One step's time: between the last two reports (the first step also encodes the prompt).
    const double step = done >= 2 ? Seconds(step_ends[done - 2], step_ends[done - 1]) : Seconds(start, step_ends[0]);
    raiser = std::thread([&raise, delay = flags.cancel_delay * step] {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      raise();
    });
  };
  auto out = engine.Render(request, on_progress);
  const Clock::time_point returned = Clock::now();
  if (raiser.joinable()) raiser.join();
  if (out.ok()) {
    std::fprintf(stderr, "bench_engine: the render finished before the cancel (step %lld of %lld)\n",
                 static_cast<long long>(flags.cancel_after_step), static_cast<long long>(flags.steps));
    return 1;
  }
  if (!farm::sd::IsRenderCancelled(out.status())) return Fail(out.status());
  std::string steps;
  for (size_t i = 0; i < step_ends.size(); ++i) {
    char one[32];
    std::snprintf(one, sizeof(one), "%s%.2f", i ? ", " : "", Seconds(i == 0 ? start : step_ends[i - 1], step_ends[i]));
    steps += one;
  }
  std::printf("txt2img %lldx%lld, Euler a, fp32, %d threads: cancel raised %.2f steps after step %lld was "
              "reported; Render returned %.3f ms after the request (\"%s\"); step times (s, the first "
              "with the prompt encoding): %s\n",
              static_cast<long long>(flags.width), static_cast<long long>(flags.height), at::get_num_threads(),
              flags.cancel_delay, static_cast<long long>(flags.cancel_after_step),
              Seconds(requested, returned) * 1e3, out.status().message().c_str(), steps.c_str());
  return 0;
}

int RunRender(const Flags& flags) {
  auto t0 = Clock::now();
  farm::sd::EngineOptions options;
  options.checkpoint = flags.checkpoint;
  options.threads = flags.threads;
  auto engine = farm::sd::Engine::Load(options);
  if (!engine.ok()) return Fail(engine.status());
  auto t1 = Clock::now();
  const double rss_after_load = PeakRssGiB();
  farm::sd::RenderRequest request;
  request.prompt = "studio portrait of a person, soft key light, warm tone";
  request.negative_prompt = "blurry";
  request.sampler = "Euler a";
  request.steps = flags.steps;
  request.width = flags.width;
  request.height = flags.height;
  request.seed = 1;
  if (flags.cancel_after_step > 0) return RunCancelledRender(flags, **engine, request, t1);
  auto out = (*engine)->Render(request);
  if (!out.ok()) return Fail(out.status());
  auto t2 = Clock::now();
  std::printf("txt2img %lldx%lld, %lld steps, Euler a, fp32, %d threads: load %.1f s, render %.1f s "
              "(%.2f s/step incl. VAE decode); peak RSS after load %.2f GiB, whole process %.2f GiB\n",
              static_cast<long long>(flags.width), static_cast<long long>(flags.height),
              static_cast<long long>(flags.steps), out->threads, Seconds(t0, t1), Seconds(t1, t2),
              Seconds(t1, t2) / static_cast<double>(flags.steps), rss_after_load, PeakRssGiB());
  return 0;
}

int RunAll(const Flags& flags, const char* self) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  double load[3] = {};
  getloadavg(load, 3);
  std::printf("machine: %s, %ld cores online, %d intra-op threads, load average %.2f %.2f %.2f\n", host,
              sysconf(_SC_NPROCESSORS_ONLN), at::get_num_threads(), load[0], load[1], load[2]);

  const double conv_peak = MeasureConvPeak();
  const double mm_peak = MeasureMatmulPeak();
  const double peak = std::max(conv_peak, mm_peak);
  std::printf("peak: conv3x3 [2,320,64,64] %.1f GFLOP/s, matmul 2048^3 %.1f GFLOP/s\n", conv_peak, mm_peak);

  {
    at::NoGradGuard no_grad;
    auto hints = farm::sd::ReadModelHints(flags.checkpoint);
    if (!hints.ok()) return Fail(hints.status());
    auto weights = farm::sd::LoadCheckpoint(flags.checkpoint);
    if (!weights.ok()) return Fail(weights.status());
    farm::sd::UNetOptions options;
    options.num_heads = hints->unet.heads;
    options.norm_groups = hints->unet.norm_groups;
    auto unet = farm::sd::UNet::Create(std::move(weights->unet), options);
    if (!unet.ok()) return Fail(unet.status());
    at::Tensor x = at::randn({2, 4, 64, 64});
    at::Tensor t = at::full({2}, 500.0);
    at::Tensor context = at::randn({2, 77, 768});
    if (auto warm = unet->Forward(x, t, context); !warm.ok()) return Fail(warm.status());
    const auto [user0, sys0] = CpuSeconds();
    const double seconds = BestOf(flags.unet_calls, [&] { (void)unet->Forward(x, t, context); });
    const auto [user1, sys1] = CpuSeconds();
    const double gflop = UNetForwardFlops(hints->unet, 64, 64, 2, 77) / 1e9;
    std::printf("UNet forward 64x64 latent, batch 2, fp32: %.0f ms per call (best of %d), %.0f GFLOP, "
                "%.1f GFLOP/s = %.0f%% of measured peak; CPU per call: user %.1f s, system %.1f s\n",
                seconds * 1e3, flags.unet_calls, gflop, gflop / seconds, 100.0 * gflop / seconds / peak,
                (user1 - user0) / flags.unet_calls, (sys1 - sys0) / flags.unet_calls);
  }

  std::fflush(stdout);
  if (flags.mode == "unet") return 0;
  const std::string child = std::string(self) + " --mode render --checkpoint '" + flags.checkpoint +
                            "' --threads " + std::to_string(flags.threads) + " --size " +
                            std::to_string(flags.width) + "x" + std::to_string(flags.height) + " --steps " +
                            std::to_string(flags.steps);
  return std::system(child.c_str()) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  const char* home = std::getenv("HOME");
  flags.checkpoint = std::string(home ? home : "/tmp") + "/.cache/studiofarm/bench/sd15-random-fp32.safetensors";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_engine: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--checkpoint") flags.checkpoint = value();
    else if (arg == "--mode") flags.mode = value();
    else if (arg == "--threads") flags.threads = std::stoi(value());
    else if (arg == "--steps") flags.steps = std::stoll(value());
    else if (arg == "--unet-calls") flags.unet_calls = std::stoi(value());
    else if (arg == "--cancel-after-step") flags.cancel_after_step = std::stoll(value());
    else if (arg == "--cancel-delay") flags.cancel_delay = std::stod(value());
    else if (arg == "--size") {
      std::string size = value();
      flags.width = std::stoll(size.substr(0, size.find('x')));
      flags.height = std::stoll(size.substr(size.find('x') + 1));
    } else {
      std::fprintf(stderr,
                   "usage: bench_engine [--checkpoint PATH] [--mode all|unet] [--threads N] [--size WxH] "
                   "[--steps N] [--unet-calls N] [--cancel-after-step K [--cancel-delay F]]\n"
                   "  --mode unet: the peaks and the UNet call only, no full render\n  (the checkpoint is generated at PATH when missing)\n"
                   "  --cancel-after-step K (render mode): cancel at step K (F steps later from another thread)\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (flags.threads > 0) at::set_num_threads(flags.threads);
  if (auto made = EnsureCheckpoint(flags.checkpoint); !made.ok()) return Fail(made);
  if (flags.mode == "render") return RunRender(flags);
  return RunAll(flags, argv[0]);
}
