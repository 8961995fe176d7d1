// bench_train_ranks: seconds per optimizer step of data-parallel LoRA training on random
// SD 1.5 weights, run as K ranks (tools/mpirun.sh K bench_train_ranks ...), with the
// collectives and bytes each step reduced. Every rank does the same per-rank work
// (weak scaling), so the scaling efficiency at K ranks is t(1 rank) / t(K ranks);
// tools/bench/train_scaling.sh runs 1 and 2 ranks and prints it.
//
//   bench_train_ranks --size tiny|full [--steps N] [--rank R] [--latent N] [--checkpointing]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/agent/collective.h"
#include "farm/sd/architecture.h"
#include "farm/sd/lora_trainer.h"
#include "farm/sd/random_weights.h"

namespace {
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string size = "tiny";
  int steps = 3;
  int64_t rank = 0;  // 0: 4 for tiny, 128 for full
  int64_t latent = 0;
  bool checkpointing = false;
};

int Fail(const farm::Status& s) {
  std::fprintf(stderr, "bench_train_ranks: %s\n", s.ToString().c_str());
  return 1;
}

int Run(const Flags& flags) {
  using namespace farm::sd;
  at::set_num_threads(1);
  auto collective = farm::agent::MakeCollective("auto", farm::agent::LaunchEnvironment::FromProcess());
  if (!collective.ok()) return Fail(collective.status());
  farm::agent::Collective& c = **collective;
  const bool full = flags.size == "full";
  const SdArchitecture arch = full ? Sd15Architecture() : TinyArchitecture();
  const int64_t latent = flags.latent > 0 ? flags.latent : (full ? 64 : 8);
  auto unet = RandomUNet(arch, 1);
  if (!unet.ok()) return Fail(unet.status());
  auto text = RandomTextEncoder(arch, 2);
  if (!text.ok()) return Fail(text.status());
  unet->SetGradientCheckpointing(flags.checkpointing);
  text->SetGradientCheckpointing(flags.checkpointing);

  LoraNetworkOptions lora;
  lora.rank = flags.rank > 0 ? flags.rank : (full ? 128 : 4);
  lora.alpha = lora.rank / 2.0;
  auto net = LoraNetwork::Create(*unet, *text, lora);
  if (!net.ok()) return Fail(net.status());
  (*net)->InitKohya(4);
  if (auto s = c.Broadcast((*net)->flat_params(), 0); !s.ok()) return Fail(s);
  (*net)->Attach(&*unet, &*text);

  at::manual_seed(5);
  std::vector<TrainExample> examples;
  for (int i = 0; i < 8; ++i) {
    examples.push_back({at::randn({arch.unet.in_channels, latent, latent}), at::Tensor(),
                        at::randint(0, arch.text.vocab, {arch.text.positions}, at::kLong)});
  }
  TrainerOptions options;
  options.max_steps = flags.steps + 1;
  options.gradient_accumulation = 1;
  auto trainer = LoraTrainer::Create(&*unet, &*text, net->get(), options, examples, c.rank(), c.world_size());
  if (!trainer.ok()) return Fail(trainer.status());
  auto reduce = [&](const at::Tensor& flat) { return c.AllReduceMean(flat); };
  // One untimed step first (first-touch of fresh memory), then the timed ones.
  if (auto s = (*trainer)->Step(reduce); !s.ok()) return Fail(s.status());
  const farm::agent::CollectiveCounters before = c.counters();
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < flags.steps; ++i) {
    if (auto s = (*trainer)->Step(reduce); !s.ok()) return Fail(s.status());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count() / flags.steps;
  const farm::agent::CollectiveCounters after = c.counters();
  auto all = c.AllGatherU64(static_cast<uint64_t>(seconds * 1e6));
  if (!all.ok()) return Fail(all.status());
  if (c.rank() == 0) {
    double slowest = 0;
    for (uint64_t us : *all) slowest = std::max(slowest, us / 1e6);
    nlohmann::json out = {
        {"size", flags.size}, {"ranks", c.world_size()}, {"backend", std::string(c.backend())},
        {"threads_per_rank", 1}, {"latent", latent}, {"lora_rank", lora.rank},
        {"lora_elements", (*net)->flat_params().numel()}, {"checkpointing", flags.checkpointing},
        {"steps_timed", flags.steps}, {"seconds_per_step", slowest},
        {"all_reduces_per_step", double(after.all_reduces - before.all_reduces) / flags.steps},
        {"collectives_per_step", double(after.total() - before.total()) / flags.steps},
        {"bytes_all_reduced_per_step", double(after.bytes_all_reduced - before.bytes_all_reduced) / flags.steps}};
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--size") {
      flags.size = next();
    } else if (arg == "--steps") {
      flags.steps = std::max(1, std::atoi(next().c_str()));
    } else if (arg == "--rank") {
      flags.rank = std::atoll(next().c_str());
    } else if (arg == "--latent") {
      flags.latent = std::atoll(next().c_str());
    } else if (arg == "--checkpointing") {
      flags.checkpointing = true;
    } else {
      std::fprintf(stderr,
                   "usage: [tools/mpirun.sh K] bench_train_ranks [--size tiny|full] [--steps N] [--rank R] "
                   "[--latent N] [--checkpointing]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (flags.size != "tiny" && flags.size != "full") return Fail(farm::InvalidArgument("--size tiny|full"));
  int code = 0;
  { code = Run(flags); }  // the collective (and MPI) ends inside Run
  return code;
}
