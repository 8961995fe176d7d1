#include "farm/agent/train_run.h"

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "farm/agent/checkpoint_selection.h"
#include "farm/agent/face_validation.h"
#include "farm/agent/train_data.h"
#include "farm/agent/train_files.h"
#include "farm/sd/engine.h"
#include "farm/sd/kohya_hashes.h"
#include "farm/sd/kohya_metadata.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/lora_trainer.h"
#include "farm/sd/safetensors.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The weights' checksum: equal on every rank iff they hold the same bits.
uint64_t WeightsChecksum(const at::Tensor& flat) {
  const at::Tensor cpu = flat.to(at::kCPU).contiguous();
  const std::string_view bytes(static_cast<const char*>(cpu.data_ptr()),
                               static_cast<size_t>(cpu.numel()) * cpu.element_size());
  return std::stoull(Sha256Hex(bytes).substr(0, 16), nullptr, 16);
}

Status CheckRanksAgree(Collective& collective, const sd::LoraNetwork& network, int64_t step) {
  FARM_ASSIGN_OR_RETURN(std::vector<uint64_t> sums, collective.AllGatherU64(WeightsChecksum(network.flat_params())));
  for (size_t r = 1; r < sums.size(); ++r) {
    if (sums[r] != sums[0]) {
      return Internal("ranks diverged at step " + std::to_string(step) + ": rank " + std::to_string(r) +
                      " holds other LoRA weights than rank 0 (checksums differ); stopping");
    }
  }
  return Status::Ok();
}

// The same state on every rank: rank 0's file, sent to the others.
Status ShareState(Collective& collective, sd::LoraTrainer& trainer, const std::string& path) {
  sd::TensorMap state = trainer.SaveState();  // shapes for the receiving ranks
  if (collective.rank() == 0) {
    FARM_ASSIGN_OR_RETURN(sd::TensorMap loaded, sd::ReadSafetensors(path));
    for (auto& [name, tensor] : state) {
      auto it = loaded.find(name);
      if (it == loaded.end() || it->second.sizes() != tensor.sizes()) {
        return DataLoss(path + ": " + name + " is missing or has another shape");
      }
      tensor = it->second.to(tensor.scalar_type()).contiguous();
    }
  }
  for (auto& [name, tensor] : state) {
    at::Tensor on_device = tensor.to(trainer.network().flat_params().device());
    FARM_RETURN_IF_ERROR(collective.Broadcast(on_device, 0));
    tensor = on_device.to(at::kCPU);
  }
  return trainer.RestoreState(state);
}

std::string CheckpointName(const fs::path& checkpoint) { return checkpoint.filename().string(); }

class Run {
 public:
  Run(const TrainRunOptions& options, Collective& collective, const TrainEventSink& events)
      : options_(options), config_(options.config), collective_(collective), events_(events),
        leader_(collective.rank() == 0) {}

  StatusOr<TrainRunResult> Go() {
    started_ = Clock::now();
    FARM_RETURN_IF_ERROR(Load());
    FARM_RETURN_IF_ERROR(Resume());
    Emit({{"event", "start"}, {"step", trainer_->step()}, {"total", config_.trainer.max_steps},
          {"world_size", collective_.world_size()}, {"backend", std::string(collective_.backend())},
          {"resumed_from", result_.resumed_from}, {"examples", data_.examples.size()},
          {"lora_elements", network_->flat_params().numel()}});
    while (trainer_->step() < config_.trainer.max_steps) FARM_RETURN_IF_ERROR(OneStep());
    if (leader_) FARM_RETURN_IF_ERROR(Finish());
    if (options_.write_rank_weights) {
      FARM_RETURN_IF_ERROR(collective_.Barrier());  // rank 0 created out_dir
      FARM_RETURN_IF_ERROR(sd::WriteSafetensors(
          (fs::path(options_.out_dir) / ("rank-" + std::to_string(collective_.rank()) + "-weights.safetensors")).string(),
          {{"flat_params", network_->flat_params().to(at::kCPU)}}));
    }
    result_.steps = trainer_->step();
    return result_;
  }

 private:
  void Emit(const json& event) {
    if (leader_ && events_) events_(event.dump());
  }

  Status Load() {
    if (leader_) fs::create_directories(options_.out_dir);
    sd::EngineOptions engine_options;
    engine_options.checkpoint = options_.checkpoint;
    engine_options.device = options_.device;
    engine_options.threads = options_.threads;
    FARM_ASSIGN_OR_RETURN(engine_, sd::Engine::Load(engine_options));
    engine_->unet().SetGradientCheckpointing(config_.gradient_checkpointing);
    engine_->text_model().SetGradientCheckpointing(config_.gradient_checkpointing);
    // Rank 0 encodes the latent cache; the others then find it.
    if (leader_) {
      FARM_ASSIGN_OR_RETURN(data_, LoadTrainData(options_.dataset, options_.checkpoint, engine_->tokenizer(),
                                                  config_.trainer.flip, options_.threads));
    }
    FARM_RETURN_IF_ERROR(collective_.Barrier());
    if (!leader_) {
      FARM_ASSIGN_OR_RETURN(data_, LoadTrainData(options_.dataset, options_.checkpoint, engine_->tokenizer(),
                                                  config_.trainer.flip, options_.threads));
    }
    sd::LoraNetworkOptions net = config_.network;
    FARM_ASSIGN_OR_RETURN(network_, sd::LoraNetwork::Create(engine_->unet(), engine_->text_model(), net));
    network_->InitKohya(config_.trainer.seed);
    FARM_RETURN_IF_ERROR(collective_.Broadcast(network_->flat_params(), 0));  // rank 0's initial LoRA
    network_->Attach(&engine_->unet(), &engine_->text_model());
    FARM_ASSIGN_OR_RETURN(trainer_, sd::LoraTrainer::Create(&engine_->unet(), &engine_->text_model(), network_.get(),
                                                            config_.trainer, data_.examples, collective_.rank(),
                                                            collective_.world_size()));
    fingerprint_ = TrainingFingerprint(config_) + " dataset=" + data_.manifest.dataset_id + " base=" +
                   config_.checkpoint_sha256;
    if (leader_ && config_.validate) {
      if (options_.face_models_dir.empty()) {
        return FailedPrecondition("face-ID validation is on but no face models are configured (--face-models)");
      }
      FARM_ASSIGN_OR_RETURN(validator_, FaceValidator::Create(options_.face_models_dir, options_.dataset, data_.manifest));
    }
    if (leader_) FARM_RETURN_IF_ERROR(PrepareMetadata());
    return Status::Ok();
  }

  Status Resume() {
    at::Tensor step = at::zeros({1}, at::kLong);
    std::string path;
    if (leader_ && options_.resume) {
      FARM_ASSIGN_OR_RETURN(auto found, FindLatestState(options_.out_dir, fingerprint_, collective_.world_size()));
      if (found) {
        step[0] = found->step;
        path = found->path;
      }
    }
    at::Tensor shared = step.to(network_->flat_params().device());
    FARM_RETURN_IF_ERROR(collective_.Broadcast(shared, 0));
    result_.resumed_from = shared.to(at::kCPU)[0].item<int64_t>();
    if (result_.resumed_from == 0) return Status::Ok();
    FARM_RETURN_IF_ERROR(ShareState(collective_, *trainer_, path));
    if (leader_) LoadPreviousScores();
    return CheckRanksAgree(collective_, *network_, trainer_->step());
  }

  Status PrepareMetadata() {
    sd::KohyaMetadata& m = metadata_;
    // Deterministic on purpose: the same spec gives byte-identical files. Wall-clock times
    // are in result.json and the farm's records instead of ss_training_*_at.
    m.session_id = std::stoull(Sha256Hex(fingerprint_).substr(0, 8), nullptr, 16);
    m.training_started_at = 0;
    m.training_finished_at = 0;
    m.output_name = config_.identity.empty() ? std::optional<std::string>() : config_.identity;
    m.network_dim = config_.network.rank;
    m.network_alpha = config_.network.alpha;
    m.learning_rate = config_.trainer.unet_lr;
    m.unet_lr = config_.trainer.unet_lr;
    m.text_encoder_lr = config_.trainer.text_encoder_lr;
    m.lr_scheduler = config_.trainer.lr_scheduler;
    m.lr_warmup_steps = config_.trainer.warmup_steps;
    m.optimizer = sd::KohyaAdamWOptimizer(config_.trainer.adamw.weight_decay, config_.trainer.adamw.beta1,
                                          config_.trainer.adamw.beta2);
    m.max_grad_norm = config_.trainer.max_grad_norm;
    if (config_.trainer.min_snr_gamma > 0) m.min_snr_gamma = config_.trainer.min_snr_gamma;
    if (config_.trainer.noise_offset != 0) m.noise_offset = config_.trainer.noise_offset;
    m.max_train_steps = config_.trainer.max_steps;
    m.batch_size_per_device = config_.trainer.batch_per_rank;
    m.world_size = collective_.world_size();
    m.gradient_accumulation_steps = config_.trainer.gradient_accumulation;
    m.gradient_checkpointing = config_.gradient_checkpointing;
    m.clip_skip = config_.trainer.clip_skip;
    m.cache_latents = true;
    m.seed = static_cast<int64_t>(config_.trainer.seed);
    m.sd_model_name = CheckpointName(options_.checkpoint);
    FARM_ASSIGN_OR_RETURN(std::string legacy, sd::WebuiLegacyModelHash(options_.checkpoint));
    m.sd_model_hash = legacy;
    if (!config_.checkpoint_sha256.empty()) {
      m.new_sd_model_hash = config_.checkpoint_sha256;
    } else {
      FARM_ASSIGN_OR_RETURN(sd::WebuiModelHashes hashes, sd::WebuiModelHashesOfFile(options_.checkpoint));
      m.new_sd_model_hash = hashes.sha256;
    }
    m.dataset_dir = fs::path(options_.dataset).filename().string();
    m.image_count = static_cast<int64_t>(data_.examples.size());
    m.captions = data_.captions;
    m.resolution_width = m.resolution_height = config_.resolution;
    m.flip_aug = config_.trainer.flip;
    return Status::Ok();
  }


  bool IsSaveStep(int64_t step) const {
    return std::find(config_.save_steps.begin(), config_.save_steps.end(), step) != config_.save_steps.end();
  }
  bool IsValidationStep(int64_t step) const {
    if (!config_.validate) return false;
    return IsSaveStep(step) || (config_.validation.every > 0 && step % config_.validation.every == 0);
  }

  Status OneStep() {
    const Clock::time_point t0 = Clock::now();
    auto reduce = [this](const at::Tensor& flat) { return collective_.AllReduceMean(flat); };
    StatusOr<sd::StepStats> stats = trainer_->Step(reduce);
    if (!stats.ok()) {
      Emit({{"event", "error"}, {"step", trainer_->step() + 1}, {"message", stats.status().ToString()}});
      return stats.status();
    }
    const double seconds = SecondsSince(t0);
    step_seconds_ += seconds;
    ++steps_timed_;
    const int64_t step = stats->step;
    const double per_step = step_seconds_ / static_cast<double>(steps_timed_);
    const json line = {{"step", step}, {"loss", stats->loss}, {"lr", stats->lr_unet},
                       {"lr_text_encoder", stats->lr_text_encoder}, {"grad_norm", stats->grad_norm},
                       {"clip_coef", stats->clip_coef}, {"seconds", seconds}};
    if (leader_) std::ofstream(fs::path(options_.out_dir) / "metrics.jsonl", std::ios::app) << line.dump() << "\n";
    json event = line;
    event["event"] = "step";
    event["total"] = config_.trainer.max_steps;
    event["seconds_per_step"] = per_step;
    event["eta_seconds"] = per_step * static_cast<double>(config_.trainer.max_steps - step);
    Emit(event);
    const bool save = IsSaveStep(step), validate = IsValidationStep(step);
    if (save || validate || (config_.checksum_every > 0 && step % config_.checksum_every == 0) ||
        step == config_.trainer.max_steps) {
      FARM_RETURN_IF_ERROR(CheckRanksAgree(collective_, *network_, step));
    }
    if (leader_ && (save || validate)) FARM_RETURN_IF_ERROR(SaveAndValidate(step, save, validate));
    return Status::Ok();
  }

  Status SaveAndValidate(int64_t step, bool save, bool validate) {
    const sd::TensorMap tensors = network_->ToKohyaTensors();
    metadata_.steps = step;
    metadata_.epoch = (step * config_.trainer.gradient_accumulation * config_.trainer.batch_per_rank *
                       collective_.world_size() - 1) / static_cast<int64_t>(data_.examples.size());
    FARM_ASSIGN_OR_RETURN(WrittenLora lora, WriteLoraCheckpoint(options_.out_dir, LoraFileName(step), tensors,
                                                                sd::KohyaTrainingMetadata(metadata_)));
    checkpoints_[step] = lora;
    json event = {{"event", "checkpoint"}, {"step", step}, {"file", fs::path(lora.path).filename().string()},
                  {"sha256", lora.sha256}, {"sshs_model_hash", lora.hashes.model_hash},
                  {"sshs_legacy_hash", lora.hashes.legacy_hash}};
    if (save) {
      // The LoRA file first: a state is only used when its LoRA file exists.
      FARM_RETURN_IF_ERROR(WriteTrainState(options_.out_dir, step, trainer_->SaveState(), fingerprint_,
                                           collective_.world_size()));
    }
    Emit(event);
    if (validate && validator_) {
      engine_->unet().SetAdapters(nullptr);
      engine_->text_model().SetAdapters(nullptr);
      StatusOr<StepValidation> v = validator_->Validate(*engine_, tensors, step, config_.validation,
                                                        config_.instance_token, config_.trainer.clip_skip);
      network_->Attach(&engine_->unet(), &engine_->text_model());
      if (!v.ok()) return v.status().WithContext("validation at step " + std::to_string(step));
      scores_[step] = v->score;
      json renders = json::array();
      for (const ValidationRender& r : v->renders) {
        renders.push_back({{"seed", r.seed}, {"faces", r.faces_found},
                           {"similarity", r.similarity ? json(*r.similarity) : json(nullptr)}});
      }
      validations_[step] = renders;
      std::ofstream(fs::path(options_.out_dir) / "validation.jsonl", std::ios::app)
          << json{{"step", step}, {"score", v->score ? json(*v->score) : json(nullptr)}, {"renders", renders}}.dump()
          << "\n";
      Emit({{"event", "validation"}, {"step", step}, {"score", v->score ? json(*v->score) : json(nullptr)},
            {"renders", renders}});
    }
    return Status::Ok();
  }

  // Keeps the lines of a .jsonl log up to step `last` (a killed run may have logged steps
  // it never saved; they are run again).
  void TruncateLog(const char* name, int64_t last) {
    const fs::path path = fs::path(options_.out_dir) / name;
    std::ifstream in(path);
    if (!in) return;
    std::string kept, text;
    while (std::getline(in, text)) {
      json line = json::parse(text, nullptr, false);
      if (!line.is_discarded() && line.contains("step") && line["step"].get<int64_t>() <= last) kept += text + "\n";
    }
    in.close();
    std::ofstream(path.string() + ".tmp") << kept;
    fs::rename(path.string() + ".tmp", path);
  }

  // After a resume: the validation scores of the steps before it, from validation.jsonl.
  void LoadPreviousScores() {
    TruncateLog("metrics.jsonl", result_.resumed_from);
    TruncateLog("validation.jsonl", result_.resumed_from);
    std::ifstream in(fs::path(options_.out_dir) / "validation.jsonl");
    std::string text;
    while (std::getline(in, text)) {
      json line = json::parse(text, nullptr, false);
      if (line.is_discarded() || !line.contains("step")) continue;
      const int64_t step = line["step"].get<int64_t>();
      if (step > result_.resumed_from) continue;
      scores_[step] = line["score"].is_number() ? std::optional<double>(line["score"].get<double>()) : std::nullopt;
      validations_[step] = line.value("renders", json::array());
    }
    for (int64_t step : config_.save_steps) {
      const fs::path path = fs::path(options_.out_dir) / LoraFileName(step);
      if (step > result_.resumed_from || !fs::exists(path)) continue;
      std::ifstream file(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      WrittenLora lora;
      lora.path = path.string();
      lora.sha256 = Sha256Hex(bytes);
      lora.hashes = sd::AddnetHashes(bytes);
      checkpoints_[step] = lora;
    }
  }

  Status Finish() {
    json result = {{"identity", config_.identity}, {"dataset_id", data_.manifest.dataset_id},
                   {"base_checkpoint", CheckpointName(options_.checkpoint)},
                   {"base_checkpoint_sha256", metadata_.new_sd_model_hash.value_or("")},
                   {"steps", trainer_->step()}, {"resumed_from", result_.resumed_from},
                   {"world_size", collective_.world_size()}, {"backend", std::string(collective_.backend())},
                   {"settings", json::parse(TrainingFingerprint(config_))},
                   {"seconds", SecondsSince(started_)},
                   {"collectives", {{"all_reduces", collective_.counters().all_reduces},
                                    {"bytes_all_reduced", collective_.counters().bytes_all_reduced},
                                    {"broadcasts", collective_.counters().broadcasts},
                                    {"all_gathers", collective_.counters().all_gathers}}}};
    json checkpoints = json::array();
    for (const auto& [step, lora] : checkpoints_) {
      checkpoints.push_back({{"step", step}, {"file", fs::path(lora.path).filename().string()},
                             {"sha256", lora.sha256}, {"sshs_model_hash", lora.hashes.model_hash},
                             {"sshs_legacy_hash", lora.hashes.legacy_hash}, {"saved", IsSaveStep(step)}});
    }
    result["checkpoints"] = checkpoints;
    if (config_.validate) FARM_RETURN_IF_ERROR(Select(result));
    const fs::path path = fs::path(options_.out_dir) / "result.json";
    const fs::path temp = path.string() + ".tmp";
    std::ofstream(temp) << result.dump(2) << "\n";
    fs::rename(temp, path);
    result_.result_json_path = path.string();
    Emit({{"event", "done"}, {"steps", trainer_->step()}, {"result", path.string()}});
    return Status::Ok();
  }

  Status Select(json& result) {
    const CheckpointSelection selection =
        SelectCheckpoints(scores_, config_.validation.top_k, config_.save_steps.back());
    json scores = json::object();
    for (const auto& [step, score] : scores_) scores[std::to_string(step)] = score ? json(*score) : json(nullptr);
    json chosen = {{"best_step", selection.best_step},
                   {"best_score", selection.best_score ? json(*selection.best_score) : json(nullptr)},
                   {"top_steps", selection.top_steps}, {"reason", selection.reason}};
    if (auto it = checkpoints_.find(selection.best_step); it != checkpoints_.end()) {
      chosen["file"] = fs::path(it->second.path).filename().string();
    }
    if (config_.validation.top_k > 1 && selection.top_steps.size() > 1) {
      std::vector<sd::TensorMap> loras;
      for (int64_t step : selection.top_steps) {
        FARM_ASSIGN_OR_RETURN(sd::TensorMap lora, sd::ReadSafetensors(checkpoints_.at(step).path));
        loras.push_back(std::move(lora));
      }
      FARM_ASSIGN_OR_RETURN(sd::TensorMap mean, AverageLoras(loras));
      metadata_.steps = selection.top_steps.front();
      std::map<std::string, std::string> meta = sd::KohyaTrainingMetadata(metadata_);
      json steps = selection.top_steps;
      meta["ss_training_comment"] = "average of the top " + std::to_string(selection.top_steps.size()) +
                                    " checkpoints by face-ID: steps " + steps.dump();
      FARM_ASSIGN_OR_RETURN(WrittenLora ensemble, WriteLoraCheckpoint(options_.out_dir, "lora-ensemble.safetensors",
                                                                      mean, meta));
      chosen["ensemble"] = {{"file", "lora-ensemble.safetensors"}, {"steps", selection.top_steps},
                            {"sha256", ensemble.sha256}, {"sshs_model_hash", ensemble.hashes.model_hash},
                            {"sshs_legacy_hash", ensemble.hashes.legacy_hash}};
    }
    result["validation"] = {{"scores", scores}, {"selection", chosen}};
    return Status::Ok();
  }

  const TrainRunOptions& options_;
  const TrainRunConfig& config_;
  Collective& collective_;
  const TrainEventSink& events_;
  const bool leader_;
  Clock::time_point started_;
  std::unique_ptr<sd::Engine> engine_;
  TrainData data_;
  std::unique_ptr<sd::LoraNetwork> network_;
  std::unique_ptr<sd::LoraTrainer> trainer_;
  std::unique_ptr<FaceValidator> validator_;
  sd::KohyaMetadata metadata_;
  std::string fingerprint_;
  std::map<int64_t, WrittenLora> checkpoints_;
  std::map<int64_t, std::optional<double>> scores_;
  std::map<int64_t, json> validations_;
  double step_seconds_ = 0;
  int64_t steps_timed_ = 0;
  TrainRunResult result_;
};

}  // namespace

StatusOr<TrainRunResult> RunTraining(const TrainRunOptions& options, Collective& collective,
                                     const TrainEventSink& events) {
  try {
    Run run(options, collective, events);
    return run.Go();
  } catch (const std::exception& e) {
    return Internal(std::string("training failed inside libtorch: ") + e.what());
  }
}

}  // namespace farm::agent
