#include "farm/sd/kohya_metadata.h"

#include <gtest/gtest.h>

#include <set>

namespace farm::sd {
namespace {

// The keys sd-scripts train_network.py (48d368fa) writes for SD 1.5 without a dataset
// config file and without --network_args, --vae or an existing checkpoint path: its
// metadata dict literal, the single-dataset block, ss_sd_model_name and the three keys
// save_model sets.
const std::set<std::string> kKohyaKeys = {
    "ss_session_id", "ss_training_started_at", "ss_output_name", "ss_learning_rate", "ss_text_encoder_lr",
    "ss_unet_lr", "ss_num_train_images", "ss_num_validation_images", "ss_num_reg_images",
    "ss_num_batches_per_epoch", "ss_num_epochs", "ss_gradient_checkpointing", "ss_gradient_accumulation_steps",
    "ss_max_train_steps", "ss_lr_warmup_steps", "ss_lr_scheduler", "ss_network_module", "ss_network_dim",
    "ss_network_alpha", "ss_network_dropout", "ss_mixed_precision", "ss_full_fp16", "ss_v2",
    "ss_base_model_version", "ss_clip_skip", "ss_max_token_length", "ss_cache_latents", "ss_seed", "ss_lowram",
    "ss_noise_offset", "ss_multires_noise_iterations", "ss_multires_noise_discount", "ss_adaptive_noise_scale",
    "ss_zero_terminal_snr", "ss_training_comment", "ss_sd_scripts_commit_hash", "ss_optimizer",
    "ss_max_grad_norm", "ss_caption_dropout_rate", "ss_caption_dropout_every_n_epochs",
    "ss_caption_tag_dropout_rate", "ss_face_crop_aug_range", "ss_prior_loss_weight", "ss_min_snr_gamma",
    "ss_scale_weight_norms", "ss_ip_noise_gamma", "ss_debiased_estimation", "ss_noise_offset_random_strength",
    "ss_ip_noise_gamma_random_strength", "ss_loss_type", "ss_huber_schedule", "ss_huber_scale", "ss_huber_c",
    "ss_fp8_base", "ss_fp8_base_unet", "ss_validation_seed", "ss_validation_split", "ss_max_validation_steps",
    "ss_validate_every_n_epochs", "ss_validate_every_n_steps", "ss_resize_interpolation",
    "ss_batch_size_per_device", "ss_total_batch_size", "ss_resolution", "ss_color_aug", "ss_flip_aug",
    "ss_random_crop", "ss_shuffle_caption", "ss_enable_bucket", "ss_bucket_no_upscale", "ss_min_bucket_reso",
    "ss_max_bucket_reso", "ss_keep_tokens", "ss_dataset_dirs", "ss_reg_dataset_dirs", "ss_tag_frequency",
    "ss_bucket_info", "ss_sd_model_name", "ss_training_finished_at", "ss_steps", "ss_epoch",
};

std::set<std::string> Keys(const std::map<std::string, std::string>& map) {
  std::set<std::string> keys;
  for (const auto& [key, value] : map) keys.insert(key);
  return keys;
}

// EasyPhoto's recipe on 10 photos, 2 ranks.
KohyaMetadata EasyPhotoRun() {
  KohyaMetadata m;
  m.session_id = 600408049;
  m.training_started_at = 1675787873.1469538;
  m.training_finished_at = 1680823308.1961293;
  m.output_name = "alice";
  m.network_dim = 128;
  m.network_alpha = 64;
  m.learning_rate = 1e-4;
  m.unet_lr = 1e-4;
  m.text_encoder_lr = 5e-5;
  m.optimizer = KohyaAdamWOptimizer(1e-2, 0.9, 0.999);
  m.max_train_steps = 1600;
  m.steps = 800;
  m.epoch = 400;
  m.batch_size_per_device = 1;
  m.world_size = 2;
  m.gradient_accumulation_steps = 4;
  m.min_snr_gamma = 5;
  m.clip_skip = 2;
  m.seed = 42;
  m.cache_latents = true;
  m.sd_model_name = "v1-5-pruned-emaonly.safetensors";
  m.sd_model_hash = "81761151";
  m.new_sd_model_hash = std::string(64, 'a');
  m.dataset_dir = "alice";
  m.image_count = 10;
  m.captions = {"sks person, Photo", "SKS person,  smiling ,", "photo", "caf\xC3\xA9"};
  return m;
}

TEST(KohyaMetadataTest, WritesKohyasKeySet) {
  std::map<std::string, std::string> defaults = KohyaTrainingMetadata(KohyaMetadata{});
  EXPECT_EQ(Keys(defaults), kKohyaKeys);

  std::map<std::string, std::string> run = KohyaTrainingMetadata(EasyPhotoRun());
  std::set<std::string> expected = kKohyaKeys;
  expected.insert({"ss_sd_model_hash", "ss_new_sd_model_hash"});
  EXPECT_EQ(Keys(run), expected);
}

TEST(KohyaMetadataTest, SpellsValuesAsPythonStr) {
  std::map<std::string, std::string> m = KohyaTrainingMetadata(EasyPhotoRun());
  EXPECT_EQ(m["ss_session_id"], "600408049");
  EXPECT_EQ(m["ss_training_started_at"], "1675787873.1469538");
  EXPECT_EQ(m["ss_training_finished_at"], "1680823308.1961293");
  EXPECT_EQ(m["ss_output_name"], "alice");
  EXPECT_EQ(m["ss_network_module"], "networks.lora");
  EXPECT_EQ(m["ss_network_dim"], "128");
  EXPECT_EQ(m["ss_network_alpha"], "64.0");
  EXPECT_EQ(m["ss_network_dropout"], "None");
  EXPECT_EQ(m["ss_learning_rate"], "0.0001");
  EXPECT_EQ(m["ss_unet_lr"], "0.0001");
  EXPECT_EQ(m["ss_text_encoder_lr"], "5e-05");
  EXPECT_EQ(m["ss_optimizer"], "torch.optim.adamw.AdamW(weight_decay=0.01,betas=(0.9, 0.999))");
  EXPECT_EQ(m["ss_lr_scheduler"], "constant");
  EXPECT_EQ(m["ss_lr_warmup_steps"], "0");
  EXPECT_EQ(m["ss_max_grad_norm"], "1.0");
  EXPECT_EQ(m["ss_min_snr_gamma"], "5.0");
  EXPECT_EQ(m["ss_noise_offset"], "None");
  EXPECT_EQ(m["ss_clip_skip"], "2");
  EXPECT_EQ(m["ss_seed"], "42");
  EXPECT_EQ(m["ss_mixed_precision"], "no");
  EXPECT_EQ(m["ss_cache_latents"], "True");
  EXPECT_EQ(m["ss_gradient_checkpointing"], "False");
  EXPECT_EQ(m["ss_v2"], "False");
  EXPECT_EQ(m["ss_base_model_version"], "sd_v1");
  EXPECT_EQ(m["ss_resolution"], "(512, 512)");
  EXPECT_EQ(m["ss_max_token_length"], "None");
  EXPECT_EQ(m["ss_training_comment"], "None");
  EXPECT_EQ(m["ss_sd_model_name"], "v1-5-pruned-emaonly.safetensors");
  EXPECT_EQ(m["ss_sd_model_hash"], "81761151");
  EXPECT_EQ(m["ss_new_sd_model_hash"], std::string(64, 'a'));
  EXPECT_EQ(m["ss_steps"], "800");
  EXPECT_EQ(m["ss_epoch"], "400");
  // Batches: 10 images x 1 repeat / batch 1 = 10, sharded over 2 ranks = 5 per epoch;
  // 4 accumulation steps: 2 optimizer steps per epoch, 1600 steps = 800 epochs.
  EXPECT_EQ(m["ss_num_train_images"], "10");
  EXPECT_EQ(m["ss_num_batches_per_epoch"], "5");
  EXPECT_EQ(m["ss_num_epochs"], "800");
  EXPECT_EQ(m["ss_batch_size_per_device"], "1");
  EXPECT_EQ(m["ss_total_batch_size"], "8");
  EXPECT_EQ(m["ss_gradient_accumulation_steps"], "4");
  // Buckets off, as the farm trains on square crops.
  EXPECT_EQ(m["ss_enable_bucket"], "False");
  EXPECT_EQ(m["ss_min_bucket_reso"], "None");
  EXPECT_EQ(m["ss_bucket_info"], "null");
  EXPECT_EQ(m["ss_reg_dataset_dirs"], "{}");
  // Unused kohya options keep their defaults.
  EXPECT_EQ(m["ss_multires_noise_discount"], "0.3");
  EXPECT_EQ(m["ss_prior_loss_weight"], "1.0");
  EXPECT_EQ(m["ss_huber_c"], "0.1");
  EXPECT_EQ(m["ss_caption_dropout_rate"], "0.0");
  EXPECT_EQ(m["ss_caption_dropout_every_n_epochs"], "0");
  EXPECT_EQ(m["ss_loss_type"], "l2");
}

TEST(KohyaMetadataTest, DatasetJsonAsJsonDumps) {
  std::map<std::string, std::string> m = KohyaTrainingMetadata(EasyPhotoRun());
  EXPECT_EQ(m["ss_dataset_dirs"], "{\"alice\": {\"n_repeats\": 1, \"img_count\": 10}}");
  // Tags split at ',', stripped and lowered; counted in order of first appearance;
  // non-ASCII escaped (json.dumps' ensure_ascii).
  EXPECT_EQ(m["ss_tag_frequency"],
            "{\"alice\": {\"sks person\": 2, \"photo\": 2, \"smiling\": 1, \"caf\\u00e9\": 1}}");
}

TEST(KohyaMetadataTest, NetworkArgsOnlyWhenGiven) {
  KohyaMetadata m = EasyPhotoRun();
  EXPECT_EQ(KohyaTrainingMetadata(m).count("ss_network_args"), 0u);
  m.network_args = {{"conv_dim", "4"}, {"conv_alpha", "1"}};
  EXPECT_EQ(KohyaTrainingMetadata(m)["ss_network_args"], "{\"conv_dim\": \"4\", \"conv_alpha\": \"1\", \"dropout\": null}");
  m.network_dropout = 0.1;
  EXPECT_EQ(KohyaTrainingMetadata(m)["ss_network_args"], "{\"conv_dim\": \"4\", \"conv_alpha\": \"1\", \"dropout\": 0.1}");
  EXPECT_EQ(KohyaTrainingMetadata(m)["ss_network_dropout"], "0.1");
}

TEST(KohyaMetadataTest, TagFrequencyEdgeCases) {
  EXPECT_TRUE(KohyaTagFrequency({}).empty());
  EXPECT_TRUE(KohyaTagFrequency({"", " , ,\t"}).empty());
  auto frequency = KohyaTagFrequency({"A,a, A ", "b"});
  ASSERT_EQ(frequency.size(), 2u);
  EXPECT_EQ(frequency[0], (std::pair<std::string, int64_t>{"a", 3}));
  EXPECT_EQ(frequency[1], (std::pair<std::string, int64_t>{"b", 1}));
}

}  // namespace
}  // namespace farm::sd
