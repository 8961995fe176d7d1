#include "farm/sd/kohya_metadata.h"

#include <algorithm>
#include <string_view>

#include "farm/sd/python_repr.h"

namespace farm::sd {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return b > 0 ? (a + b - 1) / b : 0; }

// Python's str.strip() for the ASCII whitespace it knows (it also strips \x1c-\x1f).
std::string_view Strip(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\v\f\r\x1c\x1d\x1e\x1f";
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// json.dumps({dir: {"n_repeats": r, "img_count": n}}).
std::string DatasetDirsJson(const KohyaMetadata& m) {
  return "{" + PythonJsonString(m.dataset_dir) + ": {\"n_repeats\": " + std::to_string(m.num_repeats) +
         ", \"img_count\": " + std::to_string(m.image_count) + "}}";
}

// json.dumps({dir: {tag: count, ...}}).
std::string TagFrequencyJson(const KohyaMetadata& m) {
  std::string tags;
  for (const auto& [tag, count] : KohyaTagFrequency(m.captions)) {
    if (!tags.empty()) tags += ", ";
    tags += PythonJsonString(tag) + ": " + std::to_string(count);
  }
  return "{" + PythonJsonString(m.dataset_dir) + ": {" + tags + "}}";
}

// json.dumps(net_kwargs): the --network_args strings, then "dropout" unless given.
std::string NetworkArgsJson(const KohyaMetadata& m) {
  std::string out = "{";
  bool has_dropout = false;
  for (const auto& [key, value] : m.network_args) {
    if (out.size() > 1) out += ", ";
    out += PythonJsonString(key) + ": " + PythonJsonString(value);
    has_dropout = has_dropout || key == "dropout";
  }
  if (!has_dropout) {
    if (out.size() > 1) out += ", ";
    out += "\"dropout\": " + (m.network_dropout ? PythonFloatRepr(*m.network_dropout) : std::string("null"));
  }
  return out + "}";
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> KohyaTagFrequency(const std::vector<std::string>& captions) {
  std::vector<std::pair<std::string, int64_t>> frequency;
  for (const std::string& caption : captions) {
    size_t start = 0;
    while (start <= caption.size()) {
      size_t comma = caption.find(',', start);
      if (comma == std::string::npos) comma = caption.size();
      const std::string_view tag = Strip(std::string_view(caption).substr(start, comma - start));
      start = comma + 1;
      if (tag.empty()) continue;
      const std::string lowered = AsciiLower(tag);
      auto it = std::find_if(frequency.begin(), frequency.end(),
                             [&](const auto& entry) { return entry.first == lowered; });
      if (it == frequency.end()) {
        frequency.emplace_back(lowered, 1);
      } else {
        ++it->second;
      }
    }
  }
  return frequency;
}

std::string KohyaAdamWOptimizer(double weight_decay, double beta1, double beta2) {
  // kohya: optimizer_class.__module__ + "." + __name__, then ",".join(f"{k}={v}") of the
  // ast.literal_eval'd arguments: "0.9,0.999" becomes the tuple (0.9, 0.999).
  return "torch.optim.adamw.AdamW(weight_decay=" + PythonFloatRepr(weight_decay) + ",betas=(" +
         PythonFloatRepr(beta1) + ", " + PythonFloatRepr(beta2) + "))";
}

std::map<std::string, std::string> KohyaTrainingMetadata(const KohyaMetadata& m) {
  using std::to_string;
  const int64_t num_train_images = m.image_count * m.num_repeats;
  // len(train_dataloader): one item per batch of one bucket, sharded over the processes.
  const int64_t batches_per_epoch = CeilDiv(CeilDiv(num_train_images, m.batch_size_per_device), m.world_size);
  const int64_t updates_per_epoch = CeilDiv(batches_per_epoch, m.gradient_accumulation_steps);
  const int64_t num_epochs = CeilDiv(m.max_train_steps, updates_per_epoch);
  const std::string none = "None";

  std::map<std::string, std::string> out = {
      // The dict literal of train_network.py, in its order.
      {"ss_session_id", to_string(m.session_id)},
      {"ss_training_started_at", PythonFloatRepr(m.training_started_at)},
      {"ss_output_name", PythonOptionalString(m.output_name)},
      {"ss_learning_rate", PythonFloatRepr(m.learning_rate)},
      {"ss_text_encoder_lr", PythonOptionalFloat(m.text_encoder_lr)},
      {"ss_unet_lr", PythonOptionalFloat(m.unet_lr)},
      {"ss_num_train_images", to_string(num_train_images)},
      {"ss_num_validation_images", "0"},
      {"ss_num_reg_images", "0"},
      {"ss_num_batches_per_epoch", to_string(batches_per_epoch)},
      {"ss_num_epochs", to_string(num_epochs)},
      {"ss_gradient_checkpointing", PythonBool(m.gradient_checkpointing)},
      {"ss_gradient_accumulation_steps", to_string(m.gradient_accumulation_steps)},
      {"ss_max_train_steps", to_string(m.max_train_steps)},
      {"ss_lr_warmup_steps", to_string(m.lr_warmup_steps)},
      {"ss_lr_scheduler", m.lr_scheduler},
      {"ss_network_module", m.network_module},
      {"ss_network_dim", to_string(m.network_dim)},
      {"ss_network_alpha", PythonFloatRepr(m.network_alpha)},
      {"ss_network_dropout", PythonOptionalFloat(m.network_dropout)},
      {"ss_mixed_precision", m.mixed_precision},
      {"ss_full_fp16", PythonBool(m.full_fp16)},
      {"ss_v2", "False"},
      {"ss_base_model_version", "sd_v1"},
      {"ss_clip_skip", PythonOptionalInt(m.clip_skip)},
      {"ss_max_token_length", PythonOptionalInt(m.max_token_length)},
      {"ss_cache_latents", PythonBool(m.cache_latents)},
      {"ss_seed", PythonOptionalInt(m.seed)},
      {"ss_lowram", "False"},
      {"ss_noise_offset", PythonOptionalFloat(m.noise_offset)},
      {"ss_multires_noise_iterations", none},
      {"ss_multires_noise_discount", "0.3"},
      {"ss_adaptive_noise_scale", none},
      {"ss_zero_terminal_snr", "False"},
      {"ss_training_comment", PythonOptionalString(m.training_comment)},
      {"ss_sd_scripts_commit_hash", m.sd_scripts_commit_hash},
      {"ss_optimizer", m.optimizer},
      {"ss_max_grad_norm", PythonFloatRepr(m.max_grad_norm)},
      {"ss_caption_dropout_rate", PythonFloatRepr(m.caption_dropout_rate)},
      {"ss_caption_dropout_every_n_epochs", to_string(m.caption_dropout_every_n_epochs)},
      {"ss_caption_tag_dropout_rate", PythonFloatRepr(m.caption_tag_dropout_rate)},
      {"ss_face_crop_aug_range", none},
      {"ss_prior_loss_weight", "1.0"},
      {"ss_min_snr_gamma", PythonOptionalFloat(m.min_snr_gamma)},
      {"ss_scale_weight_norms", none},
      {"ss_ip_noise_gamma", none},
      {"ss_debiased_estimation", "False"},
      {"ss_noise_offset_random_strength", "False"},
      {"ss_ip_noise_gamma_random_strength", "False"},
      {"ss_loss_type", m.loss_type},
      {"ss_huber_schedule", "snr"},
      {"ss_huber_scale", "1.0"},
      {"ss_huber_c", "0.1"},
      {"ss_fp8_base", "False"},
      {"ss_fp8_base_unet", "False"},
      {"ss_validation_seed", none},
      {"ss_validation_split", "0.0"},
      {"ss_max_validation_steps", none},
      {"ss_validate_every_n_epochs", none},
      {"ss_validate_every_n_steps", none},
      {"ss_resize_interpolation", none},
      // The single-dataset block (no dataset config file).
      {"ss_batch_size_per_device", to_string(m.batch_size_per_device)},
      {"ss_total_batch_size", to_string(m.batch_size_per_device * m.world_size * m.gradient_accumulation_steps)},
      {"ss_resolution", "(" + to_string(m.resolution_width) + ", " + to_string(m.resolution_height) + ")"},
      {"ss_color_aug", PythonBool(m.color_aug)},
      {"ss_flip_aug", PythonBool(m.flip_aug)},
      {"ss_random_crop", PythonBool(m.random_crop)},
      {"ss_shuffle_caption", PythonBool(m.shuffle_caption)},
      // Buckets off: kohya's dataset then has min/max_bucket_reso None, bucket_info None.
      {"ss_enable_bucket", "False"},
      {"ss_bucket_no_upscale", "False"},
      {"ss_min_bucket_reso", none},
      {"ss_max_bucket_reso", none},
      {"ss_keep_tokens", to_string(m.keep_tokens)},
      {"ss_dataset_dirs", DatasetDirsJson(m)},
      {"ss_reg_dataset_dirs", "{}"},
      {"ss_tag_frequency", TagFrequencyJson(m)},
      {"ss_bucket_info", "null"},
      // Written at each save.
      {"ss_training_finished_at", PythonFloatRepr(m.training_finished_at)},
      {"ss_steps", to_string(m.steps)},
      {"ss_epoch", to_string(m.epoch)},
      {"ss_sd_model_name", m.sd_model_name},
  };
  if (!m.network_args.empty()) out["ss_network_args"] = NetworkArgsJson(m);
  if (m.sd_model_hash) out["ss_sd_model_hash"] = *m.sd_model_hash;
  if (m.new_sd_model_hash) out["ss_new_sd_model_hash"] = *m.new_sd_model_hash;
  return out;
}

}  // namespace farm::sd
