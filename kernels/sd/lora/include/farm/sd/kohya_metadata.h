// The ss_* training metadata kohya sd-scripts' train_network.py writes into an SD 1.5
// LoRA (commit 48d368fa, the DreamBooth-style dataset path: one image folder, no
// dataset config file). Front ends show these keys (sd-webui's "ss_sd_model_name",
// "ss_resolution", "ss_clip_skip", "ss_num_train_images", "ss_tag_frequency"; civitai's
// training panel reads the rest), so the key set and each value's spelling follow
// kohya's: str() of the Python value ("True", "None", "0.0001", "1e-05", "(512, 512)")
// and json.dumps() for the nested ones.
//
// Settings this farm has no counterpart for are written with the value kohya writes
// when the option is not used (its argparse defaults), so a reader sees a complete,
// truthful record: ss_lowram "False", ss_multires_noise_iterations "None", ...
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace farm::sd {

struct KohyaMetadata {
  // --- The run.
  uint64_t session_id = 0;          // ss_session_id: kohya draws random.randint(0, 2**32) per run
  double training_started_at = 0;   // Unix time in seconds, as time.time()
  double training_finished_at = 0;  // when this file is saved (kohya: at every save)
  std::optional<std::string> output_name;
  std::optional<std::string> training_comment;
  // ss_sd_scripts_commit_hash: "(unknown)" is what kohya writes when it cannot ask git;
  // this trainer is not sd-scripts, so no commit of it is claimed.
  std::string sd_scripts_commit_hash = "(unknown)";

  // --- The network (networks/lora.py).
  std::string network_module = "networks.lora";
  int64_t network_dim = 4;            // rank
  double network_alpha = 1.0;         // kohya's --network_alpha is a float: "64.0"
  std::optional<double> network_dropout;
  // --network_args key=value pairs in command-line order; empty: no ss_network_args.
  // Written as kohya does: json.dumps of the pairs plus "dropout": network_dropout.
  std::vector<std::pair<std::string, std::string>> network_args;

  // --- Optimization.
  double learning_rate = 2e-6;  // --learning_rate (kohya's default); the fallback lr
  std::optional<double> unet_lr;
  std::optional<double> text_encoder_lr;
  std::string lr_scheduler = "constant";
  int64_t lr_warmup_steps = 0;
  // ss_optimizer: the optimizer class's module and name plus "(args)" when arguments
  // were given; see KohyaAdamWOptimizer.
  std::string optimizer = "torch.optim.adamw.AdamW";
  double max_grad_norm = 1.0;
  std::optional<double> min_snr_gamma;
  std::optional<double> noise_offset;
  std::string loss_type = "l2";

  // --- Steps and batches. kohya counts epochs over the images with repeats.
  int64_t max_train_steps = 1600;
  int64_t steps = 0;  // ss_steps: optimizer steps done when this file is saved
  // ss_epoch: kohya writes the 0-based index of the running epoch for a save every N
  // steps, epoch + 1 for a save at the end of an epoch and num_epochs for the last file.
  int64_t epoch = 0;
  int64_t batch_size_per_device = 1;
  int64_t world_size = 1;  // processes (ranks); kohya's accelerator.num_processes
  int64_t gradient_accumulation_steps = 1;
  bool gradient_checkpointing = false;

  // --- Precision and models.
  std::string mixed_precision = "no";  // "no", "fp16", "bf16"
  bool full_fp16 = false;
  std::optional<int64_t> clip_skip;
  std::optional<int64_t> max_token_length;  // None: 75 tokens
  bool cache_latents = false;
  std::optional<int64_t> seed;
  std::string sd_model_name;                      // base checkpoint's file name
  std::optional<std::string> sd_model_hash;       // its webui legacy hash (8 hex)
  std::optional<std::string> new_sd_model_hash;   // its SHA-256

  // --- The dataset: one folder (ss_dataset_dirs, ss_tag_frequency are keyed by it).
  std::string dataset_dir;       // folder base name
  int64_t image_count = 0;       // images in it
  int64_t num_repeats = 1;       // kohya's per-folder repeats
  std::vector<std::string> captions;  // one per image, for ss_tag_frequency
  int64_t resolution_width = 512;
  int64_t resolution_height = 512;
  bool flip_aug = false;
  bool color_aug = false;
  bool random_crop = false;
  bool shuffle_caption = false;
  int64_t keep_tokens = 0;
  double caption_dropout_rate = 0.0;
  int64_t caption_dropout_every_n_epochs = 0;
  double caption_tag_dropout_rate = 0.0;
};

// Every ss_* key train_network.py writes for an SD 1.5 LoRA (with aspect-ratio buckets
// off: the farm trains on square crops), as strings. sshs_* hashes are added by
// WriteKohyaLora (kohya_lora_writer.h).
std::map<std::string, std::string> KohyaTrainingMetadata(const KohyaMetadata& metadata);

// ss_optimizer for torch.optim.AdamW given kohya's --optimizer_args
// "weight_decay=W" "betas=B1,B2" (in that order):
// "torch.optim.adamw.AdamW(weight_decay=0.01,betas=(0.9, 0.999))".
std::string KohyaAdamWOptimizer(double weight_decay, double beta1, double beta2);

// kohya's set_tag_frequency for one folder: captions split at ',', stripped, lowered,
// counted in order of first appearance. (Lower-casing is ASCII only; Python's str.lower
// also folds other scripts.)
std::vector<std::pair<std::string, int64_t>> KohyaTagFrequency(const std::vector<std::string>& captions);

}  // namespace farm::sd
