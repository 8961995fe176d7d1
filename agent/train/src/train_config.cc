#include "farm/agent/train_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {
using nlohmann::json;

// Reads `key` of `object` into `out` when present; a value of the wrong type is an error
// naming the key.
template <typename T>
Status Read(const json& object, const char* key, T* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(std::string("train config: '") + key + "' has the wrong type (" +
                           it->type_name() + ")");
  }
  return Status::Ok();
}

// extra values may arrive as strings ("1e-4", "true") from a spec: accept both.
Status ReadNumber(const json& object, const char* key, double* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (it->is_number()) {
    *out = it->get<double>();
    return Status::Ok();
  }
  if (it->is_string()) {
    try {
      size_t used = 0;
      *out = std::stod(it->get<std::string>(), &used);
      if (used == it->get<std::string>().size()) return Status::Ok();
    } catch (const std::exception&) {
    }
  }
  return InvalidArgument(std::string("train config: '") + key + "' must be a number, got " + it->dump());
}

Status ReadInt(const json& object, const char* key, int64_t* out) {
  double value = static_cast<double>(*out);
  FARM_RETURN_IF_ERROR(ReadNumber(object, key, &value));
  if (value != static_cast<double>(static_cast<int64_t>(value))) {
    return InvalidArgument(std::string("train config: '") + key + "' must be a whole number");
  }
  *out = static_cast<int64_t>(value);
  return Status::Ok();
}

Status ReadBool(const json& object, const char* key, bool* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (it->is_boolean()) {
    *out = it->get<bool>();
    return Status::Ok();
  }
  if (it->is_string() && (*it == "true" || *it == "false")) {
    *out = *it == "true";
    return Status::Ok();
  }
  return InvalidArgument(std::string("train config: '") + key + "' must be true or false");
}

Status ReadExtra(const json& extra, TrainRunConfig* c) {
  sd::TrainerOptions& t = c->trainer;
  bool text_lr_given = extra.contains("text_encoder_lr");
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "text_encoder_lr", &t.text_encoder_lr));
  if (!text_lr_given) t.text_encoder_lr = t.unet_lr / 2;
  FARM_RETURN_IF_ERROR(ReadInt(extra, "gradient_accumulation", &t.gradient_accumulation));
  FARM_RETURN_IF_ERROR(Read(extra, "lr_scheduler", &t.lr_scheduler));
  FARM_RETURN_IF_ERROR(ReadInt(extra, "warmup_steps", &t.warmup_steps));
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "noise_offset", &t.noise_offset));
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "min_snr_gamma", &t.min_snr_gamma));
  int64_t clip_skip = t.clip_skip;
  FARM_RETURN_IF_ERROR(ReadInt(extra, "clip_skip", &clip_skip));
  t.clip_skip = static_cast<int>(clip_skip);
  FARM_RETURN_IF_ERROR(ReadBool(extra, "flip", &t.flip));
  FARM_RETURN_IF_ERROR(ReadBool(extra, "train_unet", &c->network.train_unet));
  FARM_RETURN_IF_ERROR(ReadBool(extra, "train_text_encoder", &c->network.train_text_encoder));
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "max_grad_norm", &t.max_grad_norm));
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "weight_decay", &t.adamw.weight_decay));
  FARM_RETURN_IF_ERROR(ReadBool(extra, "gradient_checkpointing", &c->gradient_checkpointing));
  FARM_RETURN_IF_ERROR(ReadInt(extra, "checksum_every", &c->checksum_every));
  ValidationConfig& v = c->validation;
  FARM_RETURN_IF_ERROR(ReadBool(extra, "validate", &c->validate));
  FARM_RETURN_IF_ERROR(ReadInt(extra, "validate_every", &v.every));
  if (v.every > 0) c->validate = true;
  FARM_RETURN_IF_ERROR(Read(extra, "validation_prompt", &v.prompt));
  FARM_RETURN_IF_ERROR(Read(extra, "validation_negative_prompt", &v.negative_prompt));
  FARM_RETURN_IF_ERROR(ReadInt(extra, "validation_steps", &v.steps));
  FARM_RETURN_IF_ERROR(Read(extra, "validation_sampler", &v.sampler));
  FARM_RETURN_IF_ERROR(ReadNumber(extra, "validation_cfg", &v.cfg));
  FARM_RETURN_IF_ERROR(ReadInt(extra, "top_k", &v.top_k));
  if (auto it = extra.find("validation_seeds"); it != extra.end()) {
    v.seeds.clear();
    if (it->is_string()) {  // "1,2,3" from a spec's extra settings
      std::string text = it->get<std::string>();
      size_t start = 0;
      while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        try {
          v.seeds.push_back(std::stoull(text.substr(start, comma - start)));
        } catch (const std::exception&) {
          return InvalidArgument("train config: 'validation_seeds' must be numbers separated by commas");
        }
        start = comma + 1;
      }
    } else {
      FARM_RETURN_IF_ERROR(Read(extra, "validation_seeds", &v.seeds));
    }
  }
  if (auto it = extra.find("validation_size"); it != extra.end()) {
    const std::string size = it->is_string() ? it->get<std::string>() : "";
    const size_t x = size.find('x');
    if (x == std::string::npos) return InvalidArgument("train config: 'validation_size' must be WIDTHxHEIGHT");
    v.width = std::stoll(size.substr(0, x));
    v.height = std::stoll(size.substr(x + 1));
  }
  return Status::Ok();
}

Status Check(const TrainRunConfig& c) {
  if (c.save_steps.empty()) return InvalidArgument("train config: 'save_steps' is empty");
  if (c.save_steps.front() < 1) return InvalidArgument("train config: save steps must be at least 1");
  if (c.network.rank < 1) return InvalidArgument("train config: 'rank' must be at least 1");
  if (!(c.network.alpha > 0)) return InvalidArgument("train config: 'alpha' must be positive");
  if (!(c.trainer.unet_lr > 0) || !(c.trainer.text_encoder_lr >= 0)) {
    return InvalidArgument("train config: learning rates must be positive");
  }
  if (c.trainer.batch_per_rank < 1 || c.trainer.gradient_accumulation < 1) {
    return InvalidArgument("train config: 'batch_size' and 'gradient_accumulation' must be at least 1");
  }
  if (c.resolution < 64 || c.resolution % 8 != 0) {
    return InvalidArgument("train config: 'resolution' must be a multiple of 8, at least 64");
  }
  if (c.trainer.clip_skip < 1) return InvalidArgument("train config: 'clip_skip' must be at least 1");
  if (c.ranks < 1) return InvalidArgument("train config: 'ranks' must be at least 1");
  if (c.validate && c.validation.seeds.empty()) return InvalidArgument("train config: no validation seeds");
  return Status::Ok();
}

}  // namespace

StatusOr<TrainRunConfig> ParseTrainConfig(const std::string& json_text) {
  json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return InvalidArgument("train config: not a JSON object");
  TrainRunConfig c;
  // EasyPhoto's recipe as the defaults.
  c.network.rank = 128;
  c.network.alpha = 64;
  c.trainer.unet_lr = 1e-4;
  c.trainer.gradient_accumulation = 4;
  FARM_RETURN_IF_ERROR(Read(doc, "identity", &c.identity));
  FARM_RETURN_IF_ERROR(Read(doc, "instance_token", &c.instance_token));
  // The canonical record names them "photos" and "checkpoint"; hand-written configs may
  // spell out the _sha256.
  FARM_RETURN_IF_ERROR(Read(doc, "photos", &c.photos_sha256));
  FARM_RETURN_IF_ERROR(Read(doc, "photos_sha256", &c.photos_sha256));
  FARM_RETURN_IF_ERROR(Read(doc, "checkpoint", &c.checkpoint_sha256));
  FARM_RETURN_IF_ERROR(Read(doc, "checkpoint_sha256", &c.checkpoint_sha256));
  FARM_RETURN_IF_ERROR(ReadInt(doc, "ranks", &c.ranks));
  FARM_RETURN_IF_ERROR(Read(doc, "save_steps", &c.save_steps));
  FARM_RETURN_IF_ERROR(ReadInt(doc, "rank", &c.network.rank));
  FARM_RETURN_IF_ERROR(ReadNumber(doc, "alpha", &c.network.alpha));
  FARM_RETURN_IF_ERROR(ReadNumber(doc, "learning_rate", &c.trainer.unet_lr));
  FARM_RETURN_IF_ERROR(ReadInt(doc, "batch_size", &c.trainer.batch_per_rank));
  FARM_RETURN_IF_ERROR(ReadInt(doc, "resolution", &c.resolution));
  int64_t seed = 0;
  FARM_RETURN_IF_ERROR(ReadInt(doc, "seed", &seed));
  c.trainer.seed = static_cast<uint64_t>(seed);
  const json extra = doc.contains("extra") && doc["extra"].is_object() ? doc["extra"] : json::object();
  FARM_RETURN_IF_ERROR(ReadExtra(extra, &c));
  std::sort(c.save_steps.begin(), c.save_steps.end());
  c.save_steps.erase(std::unique(c.save_steps.begin(), c.save_steps.end()), c.save_steps.end());
  if (!c.save_steps.empty()) c.trainer.max_steps = c.save_steps.back();
  FARM_RETURN_IF_ERROR(Check(c));
  return c;
}

std::string TrainingFingerprint(const TrainRunConfig& c) {
  const sd::TrainerOptions& t = c.trainer;
  json f = {{"rank", c.network.rank}, {"alpha", c.network.alpha}, {"multiplier", c.network.multiplier},
            {"train_unet", c.network.train_unet}, {"train_text_encoder", c.network.train_text_encoder},
            {"max_steps", t.max_steps}, {"batch_per_rank", t.batch_per_rank},
            {"gradient_accumulation", t.gradient_accumulation}, {"unet_lr", t.unet_lr},
            {"text_encoder_lr", t.text_encoder_lr}, {"beta1", t.adamw.beta1}, {"beta2", t.adamw.beta2},
            {"eps", t.adamw.eps}, {"weight_decay", t.adamw.weight_decay}, {"max_grad_norm", t.max_grad_norm},
            {"lr_scheduler", t.lr_scheduler}, {"warmup_steps", t.warmup_steps},
            {"noise_offset", t.noise_offset}, {"min_snr_gamma", t.min_snr_gamma}, {"clip_skip", t.clip_skip},
            {"flip", t.flip}, {"seed", t.seed}, {"resolution", c.resolution}};
  return f.dump();
}

}  // namespace farm::agent
