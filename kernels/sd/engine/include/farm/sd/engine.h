// The render engine: an SD 1.5 checkpoint loaded once, rendering txt2img, img2img and
// inpaint requests with LoRAs, weighted prompts and any of the samplers.
//
//   FARM_ASSIGN_OR_RETURN(auto engine, Engine::Load({.checkpoint = "model.safetensors"}));
//   FARM_ASSIGN_OR_RETURN(RenderOutput out, engine->Render(request));
//
// Reproducibility: all randomness comes from per-image CPU generators seeded seed + i
// (sampling/noise.h), so an image depends only on its own parameters, not on the batch
// it was rendered in or the device. On the CPU the same request gives bit-identical
// pixels run after run with the same thread count, which is recorded in RenderOutput.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "farm/schemas/status.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/clip_tokenizer.h"
#include "farm/sd/controlnet.h"
#include "farm/sd/prompt.h"
#include "farm/sd/sampler.h"
#include "farm/sd/schedule.h"
#include "farm/sd/textual_inversion.h"
#include "farm/sd/unet.h"
#include "farm/sd/vae.h"

namespace farm::sd {

struct EngineOptions {
  // A single .safetensors file (LDM layout) or a diffusers folder.
  std::string checkpoint;
  // A VAE-only .safetensors (LDM or diffusers layout, e.g. the ft-MSE VAE) that replaces
  // the checkpoint's VAE; empty: the checkpoint's own.
  std::string vae;
  // Folder with vocab.json + merges.txt. Empty: <folder>/tokenizer for a diffusers folder,
  // else "tokenizer/" next to the checkpoint file, when either holds a vocab.json; else
  // the CLIP vocabulary bundled with the library (ClipTokenizer::Bundled()).
  std::string tokenizer_dir;
  // Folders searched for `<lora:name:w>` prompt tags (name.safetensors).
  std::vector<std::string> lora_dirs;
  // "cpu", "cuda" or "cuda:N". On CUDA the UNet and text encoder run in fp16 and the
  // VAE in fp32 (fp16 VAE decodes overflow to NaN on SD 1.5).
  std::string device = "cpu";
  // Intra-op threads; 0 keeps libtorch's default. The value used is recorded.
  int threads = 0;
};

struct LoraFile;

struct LoraRequest {
  std::string path;  // a kohya .safetensors
  double multiplier = 1.0;
  // The file already read (a model cache's copy); null: read `path` for this render.
  std::shared_ptr<const LoraFile> file = nullptr;
};

// A ControlNet steering the render. Its residuals are added to the UNet for both halves
// of the classifier-free-guidance batch (uncond and cond rows alike, as A1111's
// ControlNet extension and diffusers' pipeline do outside "guess mode"); the residuals of
// several units are summed.
struct ControlNetUnit {
  std::string model;   // a ControlNet .safetensors (original or diffusers layout) or diffusers folder
  at::Tensor hint;     // [3, height, width] float RGB in [0, 1], the render's size (not normalised)
  double scale = 1.0;  // conditioning scale ("weight" in A1111); 0 skips the unit
  // Active for the sampling steps i (0-based, counting the steps this render runs: all of
  // them for txt2img, the last steps_run for img2img) with start <= i / steps_run < end.
  // That is diffusers' rule for the start and A1111's "percent of the steps taken so far"
  // for both ends; 0 and 1 keep it on for every step.
  double guidance_start = 0.0;
  double guidance_end = 1.0;
};

struct RenderRequest {
  std::string prompt;           // A1111 syntax: (word:1.2), [word], BREAK, <lora:name:w>
  std::string negative_prompt;
  std::string sampler = "Euler a";  // front-end name, see sampler_names.h
  int64_t steps = 20;
  double cfg_scale = 7.0;
  int64_t clip_skip = 1;        // 1 = last CLIP layer, 2 = penultimate
  uint64_t seed = 0;            // image i uses seed + i
  int64_t width = 512;          // multiples of 8
  int64_t height = 512;
  int64_t batch = 1;
  std::vector<LoraRequest> loras;
  // img2img: [3, H, W] float in [0, 1] of the requested size; strength in [0, 1].
  std::optional<at::Tensor> init_image;
  double strength = 0.75;
  // inpaint (needs init_image): [H, W] float in [0, 1], 1 = repaint, 0 = keep.
  std::optional<at::Tensor> mask;
  std::vector<ControlNetUnit> controlnets;
  // Textual-inversion embeddings the prompt and negative prompt may call by name (A1111's
  // embeddings folder); their width must be the text encoder's.
  std::vector<TextualInversion> embeddings;
  ScheduleSemantics semantics = ScheduleSemantics::kFrontEnd;
  // Polled before every sampler step, before the VAE encode and decode and between a
  // step's ControlNets and its UNet; true ends the render with RenderCancelled's status
  // ("render cancelled at step k/n", sampler.h). Empty: never cancelled.
  std::function<bool()> cancelled;
};

// Wall seconds a render spent in each model (on CUDA, until the calls were queued).
struct ModelSeconds {
  double text = 0;        // CLIP text encoder
  double unet = 0;        // UNet calls
  double controlnet = 0;  // ControlNet calls
  double vae = 0;         // VAE encode (img2img) and decode
};

struct RenderOutput {
  at::Tensor images;    // [batch, H, W, 3] uint8, CPU
  at::Tensor latents;   // [batch, 4, H/8, W/8] final latents, float32, CPU
  std::vector<uint64_t> seeds;
  int64_t steps_run = 0;  // fewer than steps for img2img
  int threads = 0;        // intra-op threads the render ran with
  std::string device;
  std::vector<std::string> loras_applied;  // "path:multiplier", tags resolved
  std::vector<std::string> controlnets_applied;  // "path:scale:start:end", in request order
  std::vector<std::string> embeddings_used;  // names found in the prompt, then the negative prompt
  ModelSeconds seconds;
};

class Engine {
 public:
  static StatusOr<std::unique_ptr<Engine>> Load(const EngineOptions& options);

  StatusOr<RenderOutput> Render(const RenderRequest& request,
                                const ProgressCallback& on_progress = nullptr);

  // The prompt as CLIP conditioning [1, 77 * chunks, hidden] with weights applied;
  // `pad_to_chunks` appends empty chunks (cond and uncond must have the same length);
  // `embeddings` (null: none) are substituted where the prompt names them.
  StatusOr<at::Tensor> EncodePrompt(const std::string& prompt, int64_t clip_skip,
                                    int64_t pad_to_chunks = 0, const EmbeddingSet* embeddings = nullptr);
  // The same from chunks already tokenized (TokenizePrompt with this engine's tokenizer).
  StatusOr<at::Tensor> EncodeChunks(const std::vector<PromptChunk>& chunks, int64_t clip_skip);

  ClipTextModel& text_model() { return *text_; }
  UNet& unet() { return *unet_; }
  Vae& vae() { return *vae_; }
  const ClipTokenizer& tokenizer() const { return *tokenizer_; }
  const EngineOptions& options() const { return options_; }

  // The ControlNet at `path`, loaded on first use onto the engine's device and dtype with
  // the UNet's head/group counts (unless its metadata or config.json says otherwise) and
  // checked to fit the UNet. Render keeps the models its last request used.
  StatusOr<const ControlNet*> LoadControlNet(const std::string& path);
  at::Device device() const { return device_; }

 private:
  Engine() = default;
  StatusOr<std::vector<LoraRequest>> ResolveLoras(const RenderRequest& request,
                                                  std::string& prompt,
                                                  std::string& negative) const;
  StatusOr<at::Tensor> Sample(const RenderRequest& request, const at::Tensor& uncond,
                              const at::Tensor& cond,
                              const std::vector<const ControlNet*>& controlnets,
                              RenderOutput& out, const ProgressCallback& on_progress);
  // Loads the request's ControlNets (dropping the cached ones it does not use).
  StatusOr<std::vector<const ControlNet*>> PrepareControlNets(const RenderRequest& request);
  StatusOr<at::Tensor> EncodeImage(const at::Tensor& image01);

  EngineOptions options_;
  at::Device device_ = at::kCPU;
  at::ScalarType compute_dtype_ = at::kFloat;
  std::optional<ClipTextModel> text_;
  std::optional<UNet> unet_;
  std::optional<Vae> vae_;
  std::optional<ClipTokenizer> tokenizer_;
  std::map<std::string, std::unique_ptr<ControlNet>> controlnets_;  // by path
};

// Decoder output in [-1, 1] -> [B, H, W, 3] uint8: round(clamp(x / 2 + 0.5, 0, 1) * 255).
at::Tensor ImagesToUint8(const at::Tensor& decoded);

}  // namespace farm::sd
