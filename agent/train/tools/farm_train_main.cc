// farm-train: trains a face LoRA on one rank of an MPI job (or alone). See
// agent/train/include/farm/agent/train_run.h for what a run does and docs/training.md for
// how the farm launches it (mpirun -np K, or srun under Slurm).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/agent/collective.h"
#include "farm/agent/train_config.h"
#include "farm/agent/train_run.h"

namespace {

using nlohmann::json;

struct Args {
  std::string checkpoint, dataset, out, params_file, backend = "auto", device = "cpu", face_models;
  std::vector<int64_t> save_steps;
  std::vector<std::string> extra;
  std::optional<int64_t> rank, batch, seed;
  std::optional<double> alpha, lr;
  int threads = 0;
  bool no_resume = false, json_events = false, rank_weights = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "farm-train: %s\n", message.c_str());
  return 1;
}

// The record from --params (a TrainParams JSON file) with the command line's overrides.
farm::StatusOr<std::string> ParamsJson(const Args& a) {
  json params = json::object();
  if (!a.params_file.empty()) {
    std::ifstream in(a.params_file);
    if (!in) return farm::NotFound(a.params_file + ": cannot read");
    std::stringstream text;
    text << in.rdbuf();
    params = json::parse(text.str(), nullptr, false);
    if (params.is_discarded() || !params.is_object()) {
      return farm::InvalidArgument(a.params_file + ": not a JSON object (expected a TrainParams record)");
    }
  }
  if (!a.save_steps.empty()) params["save_steps"] = a.save_steps;
  if (a.rank) params["rank"] = *a.rank;
  if (a.batch) params["batch_size"] = *a.batch;
  if (a.seed) params["seed"] = *a.seed;
  if (a.alpha) params["alpha"] = *a.alpha;
  if (a.lr) params["learning_rate"] = *a.lr;
  for (const std::string& kv : a.extra) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) return farm::InvalidArgument("--set " + kv + ": expected KEY=VALUE");
    params["extra"][kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return params.dump();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{
      "farm-train: train a kohya-format face LoRA on an SD 1.5 checkpoint from a prepared dataset "
      "(farm-agent prepare). Run alone, or as K ranks with `mpirun -np K farm-train ...` (or srun): "
      "each rank draws its share of every global batch and the LoRA gradients are all-reduced once "
      "per optimizer step. Writes lora-<step>.safetensors at each save step, resume states, "
      "metrics.jsonl and result.json to --out; a rerun with the same --out resumes."};
  app.add_option("--checkpoint", a.checkpoint, "base SD 1.5 checkpoint (.safetensors, tokenizer/ next to it)")
      ->required()->check(CLI::ExistingFile);
  app.add_option("--dataset", a.dataset, "prepared dataset folder (farm-agent prepare)")
      ->required()->check(CLI::ExistingDirectory);
  app.add_option("--out", a.out, "output folder (created; an existing run there is resumed)")->required();
  app.add_option("--params", a.params_file,
                 "TrainParams JSON (the farm's train record); defaults: EasyPhoto's recipe");
  app.add_option("--save-steps", a.save_steps, "steps to save a checkpoint at; the last is the run's length")
      ->delimiter(',');
  app.add_option("--rank", a.rank, "LoRA rank (network dim)");
  app.add_option("--alpha", a.alpha, "LoRA alpha");
  app.add_option("--lr", a.lr, "UNet learning rate (the text encoder gets half unless set)");
  app.add_option("--batch", a.batch, "batch size per rank");
  app.add_option("--seed", a.seed, "seed of the initial LoRA and every sample draw");
  app.add_option("--set", a.extra,
                 "KEY=VALUE trainer setting (gradient_accumulation, lr_scheduler, warmup_steps, noise_offset, "
                 "min_snr_gamma, clip_skip, flip, text_encoder_lr, train_text_encoder, validate_every, top_k, ...)");
  app.add_option("--backend", a.backend, "collectives: auto, single, mpi, nccl")
      ->check(CLI::IsMember({"auto", "single", "mpi", "nccl"}))->capture_default_str();
  app.add_option("--device", a.device, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--threads", a.threads, "intra-op threads per rank (0: libtorch's default)")->capture_default_str();
  app.add_option("--face-models", a.face_models, "face-api model folder, for face-ID validation");
  app.add_flag("--no-resume", a.no_resume, "start from step 0 even if --out holds a saved state");
  app.add_flag("--write-rank-weights", a.rank_weights,
               "diagnostic: every rank writes its final weights to OUT/rank-<r>-weights.safetensors");
  app.add_flag("--json", a.json_events, "print progress events as JSON lines on stdout (rank 0)");
  CLI11_PARSE(app, argc, argv);

  farm::StatusOr<std::string> params = ParamsJson(a);
  if (!params.ok()) return Fail(params.status().ToString());
  farm::StatusOr<farm::agent::TrainRunConfig> config = farm::agent::ParseTrainConfig(*params);
  if (!config.ok()) return Fail(config.status().ToString());
  if (config->validate && a.face_models.empty()) {
    return Fail("validation is on (validate_every / validate) but --face-models is not given");
  }

  farm::agent::TrainRunOptions options;
  options.checkpoint = a.checkpoint;
  options.dataset = a.dataset;
  options.out_dir = a.out;
  options.config = *config;
  options.resume = !a.no_resume;
  options.device = a.device;
  options.threads = a.threads;
  options.face_models_dir = a.face_models;
  options.write_rank_weights = a.rank_weights;

  int exit_code = 0;
  {
    // The collective lives in this scope: MPI is finalised before the process exits.
    auto collective = farm::agent::MakeCollective(a.backend, farm::agent::LaunchEnvironment::FromProcess());
    if (!collective.ok()) return Fail(collective.status().ToString());
    const bool leader = (*collective)->rank() == 0;
    auto events = [&](const std::string& line) {
      if (a.json_events) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        return;
      }
      const json e = json::parse(line);
      const std::string kind = e["event"];
      if (kind == "step") {
        std::fprintf(stderr, "\rstep %lld/%lld  loss %.4f  lr %.2e  %.2f s/step  ETA %.0f s   ",
                     static_cast<long long>(e["step"].get<int64_t>()), static_cast<long long>(e["total"].get<int64_t>()),
                     e["loss"].get<double>(), e["lr"].get<double>(), e["seconds_per_step"].get<double>(),
                     e["eta_seconds"].get<double>());
      } else {
        std::fprintf(stderr, "\n%s\n", line.c_str());
      }
    };
    farm::StatusOr<farm::agent::TrainRunResult> result = farm::agent::RunTraining(options, **collective, events);
    if (!result.ok()) {
      exit_code = Fail("rank " + std::to_string((*collective)->rank()) + ": " + result.status().ToString());
    } else if (leader && !a.json_events) {
      std::fprintf(stderr, "\ntrained %lld steps; %s\n", static_cast<long long>(result->steps),
                   result->result_json_path.c_str());
    }
  }
  return exit_code;
}
