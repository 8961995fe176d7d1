#include "farm/sd/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <utility>

#include <ATen/Parallel.h>

#include "farm/sd/checkpoint.h"
#include "farm/sd/controlnet_checkpoint.h"
#include "farm/sd/denoiser.h"
#include "farm/sd/lora.h"
#include "farm/sd/model_hints.h"
#include "farm/sd/noise.h"
#include "farm/sd/prompt.h"
#include "farm/sd/sampler_names.h"
#include "host_memory.h"

namespace farm::sd {
namespace fs = std::filesystem;
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string DefaultTokenizerDir(const std::string& checkpoint) {
  fs::path path(checkpoint);
  if (fs::is_directory(path)) return (path / "tokenizer").string();
  return (path.parent_path() / "tokenizer").string();
}

Status ValidateRequest(const RenderRequest& r, int64_t downscale, int64_t clip_layers) {
  auto bad = [](const std::string& what) { return InvalidArgument("render request: " + what); };
  if (r.width <= 0 || r.height <= 0 || r.width % downscale != 0 || r.height % downscale != 0) {
    return bad("size " + std::to_string(r.width) + "x" + std::to_string(r.height) +
               " must be positive multiples of " + std::to_string(downscale));
  }
  if (r.steps < 1 || r.steps > 1000) return bad("steps must be in 1..1000");
  if (r.batch < 1 || r.batch > 64) return bad("batch must be in 1..64");
  if (r.clip_skip < 1 || r.clip_skip > clip_layers) {
    return bad("clip skip must be in 1.." + std::to_string(clip_layers));
  }
  if (!std::isfinite(r.cfg_scale)) return bad("cfg scale must be a finite number");
  if (r.init_image) {
    const at::Tensor& img = *r.init_image;
    if (img.dim() != 3 || img.size(0) != 3 || img.size(1) != r.height || img.size(2) != r.width) {
      return bad("init image must be [3, " + std::to_string(r.height) + ", " +
                 std::to_string(r.width) + "] (the requested size)");
    }
    if (!(r.strength >= 0.0 && r.strength <= 1.0)) return bad("strength must be in [0, 1]");
  }
  if (r.mask) {
    if (!r.init_image) return bad("a mask needs an init image (inpaint)");
    const at::Tensor& m = *r.mask;
    if (m.dim() != 2 || m.size(0) != r.height || m.size(1) != r.width) {
      return bad("mask must be [" + std::to_string(r.height) + ", " + std::to_string(r.width) + "]");
    }
  }
  for (size_t i = 0; i < r.controlnets.size(); ++i) {
    const ControlNetUnit& unit = r.controlnets[i];
    const std::string which = "controlnet " + std::to_string(i) + " (" + unit.model + "): ";
    if (unit.model.empty()) return bad(which + "no model path");
    const at::Tensor& hint = unit.hint;
    if (!hint.defined() || hint.dim() != 3 || hint.size(1) != r.height || hint.size(2) != r.width ||
        !at::isFloatingType(hint.scalar_type())) {
      return bad(which + "hint image must be a float [channels, " + std::to_string(r.height) + ", " +
                 std::to_string(r.width) + "] tensor (the requested size)");
    }
    if (!std::isfinite(unit.scale)) return bad(which + "scale must be a finite number");
    if (!(unit.guidance_start >= 0.0 && unit.guidance_start < unit.guidance_end && unit.guidance_end <= 1.0)) {
      return bad(which + "guidance start/end must satisfy 0 <= start < end <= 1");
    }
  }
  return Status::Ok();
}

// The unit's window (ControlNetUnit): step i of n is guided when start <= i / n < end.
bool UnitActive(const ControlNetUnit& unit, int64_t step, int64_t steps) {
  const double progress = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(steps, 1));
  return unit.scale != 0.0 && progress >= unit.guidance_start && progress < unit.guidance_end;
}

// Inpainting checkpoints (SD 1.5 inpainting and its fine-tunes) take latent + mask +
// masked-image latent: 9 input channels. The engine's inpaint and the detailer blend the
// kept latent outside the mask with a 4-channel UNet, as A1111 does with a normal
// checkpoint, and do not build that conditioning; refused here rather than failing on the
// first UNet call with a shape error.
Status RefuseInpaintingUnet(const SdWeights& weights, const std::string& checkpoint) {
  const auto conv_in = weights.unet.find("conv_in.weight");
  if (conv_in == weights.unet.end() || conv_in->second.dim() != 4 || conv_in->second.size(1) != 9) {
    return Status::Ok();
  }
  return InvalidArgument(checkpoint +
                         " is an inpainting checkpoint (9-channel UNet: latent, mask and masked image); "
                         "StudioFarm renders txt2img, img2img, inpaint and the detailer with a 4-channel "
                         "SD 1.5 UNet: use the checkpoint the inpainting model was made from (or any SD 1.5 "
                         "checkpoint)");
}

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

at::Tensor ImagesToUint8(const at::Tensor& decoded) {
  return (decoded.detach().to(at::kCPU, at::kFloat) / 2 + 0.5)
      .clamp(0, 1)
      .mul(255)
      .round()
      .to(at::kByte)
      .permute({0, 2, 3, 1})
      .contiguous();
}

StatusOr<std::unique_ptr<Engine>> Engine::Load(const EngineOptions& options) {
  LimitCpuKernelCaches();
  std::unique_ptr<Engine> engine(new Engine());
  engine->options_ = options;
  try {
    engine->device_ = at::Device(options.device);
  } catch (const std::exception&) {
    return InvalidArgument("device '" + options.device + "': expected cpu, cuda or cuda:N");
  }
  if (engine->device_.is_cuda()) {
    if (!at::hasCUDA()) {
      return FailedPrecondition("device '" + options.device +
                                "': this libtorch has no CUDA support or no GPU is visible");
    }
    engine->compute_dtype_ = at::kHalf;
  }
  if (options.threads > 0) at::set_num_threads(options.threads);
  // Same inputs, same bits (on the CPU; CUDA kernels that have no deterministic version
  // only warn).
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);

  FARM_ASSIGN_OR_RETURN(SdArchitecture arch, ReadModelHints(options.checkpoint));
  FARM_ASSIGN_OR_RETURN(SdWeights weights, LoadCheckpoint(options.checkpoint, at::kFloat));
  FARM_RETURN_IF_ERROR(RefuseInpaintingUnet(weights, options.checkpoint));
  if (!options.vae.empty()) {
    FARM_ASSIGN_OR_RETURN(TensorMap vae, LoadVaeFile(options.vae, at::kFloat));
    Status replaced = ReplaceVae(weights, std::move(vae));
    if (!replaced.ok()) return replaced.WithContext(options.vae + " (as the VAE of " + options.checkpoint + ")");
  }

  std::string tokenizer_dir = options.tokenizer_dir;
  if (tokenizer_dir.empty()) {
    // A folder beside the model wins (a diffusers layout, or a small test vocabulary);
    // a single-file checkpoint without one uses the bundled CLIP vocabulary.
    const std::string beside = DefaultTokenizerDir(options.checkpoint);
    std::error_code ec;
    if (fs::exists(fs::path(beside) / "vocab.json", ec)) tokenizer_dir = beside;
  }
  auto tokenizer = tokenizer_dir.empty() ? ClipTokenizer::Bundled() : ClipTokenizer::LoadFromDir(tokenizer_dir);
  if (!tokenizer.ok()) {
    return tokenizer.status().WithContext(
        "tokenizer (vocab.json + merges.txt; pass the folder with --tokenizer)");
  }
  engine->tokenizer_.emplace(std::move(tokenizer).value());

  auto to_device = [&](TensorMap& map, at::ScalarType dtype) {
    for (auto& [name, tensor] : map) tensor = tensor.to(engine->device_, dtype).contiguous();
  };
  to_device(weights.text_encoder, engine->compute_dtype_);
  to_device(weights.unet, engine->compute_dtype_);
  to_device(weights.vae, at::kFloat);

  ClipTextOptions text_options;
  text_options.num_heads = arch.text.heads;
  auto text = ClipTextModel::Create(std::move(weights.text_encoder), text_options);
  if (!text.ok()) return text.status().WithContext(options.checkpoint + ": text encoder");
  engine->text_.emplace(std::move(text).value());
  if (tokenizer_dir.empty() && engine->tokenizer_->vocab_size() > engine->text_->vocab_size()) {
    // Only SD 1.5's own vocabulary fits the bundled one; say so before a prompt fails.
    return InvalidArgument(options.checkpoint + ": the text encoder has " +
                           std::to_string(engine->text_->vocab_size()) + " token embeddings, the bundled CLIP "
                           "vocabulary " + std::to_string(engine->tokenizer_->vocab_size()) +
                           " ids; pass this model's tokenizer folder (vocab.json + merges.txt) with --tokenizer");
  }

  UNetOptions unet_options;
  unet_options.num_heads = arch.unet.heads;
  unet_options.norm_groups = arch.unet.norm_groups;
  auto unet = UNet::Create(std::move(weights.unet), unet_options);
  if (!unet.ok()) return unet.status().WithContext(options.checkpoint + ": unet");
  engine->unet_.emplace(std::move(unet).value());

  VaeOptions vae_options;
  vae_options.norm_groups = arch.vae.norm_groups;
  auto vae = Vae::Create(std::move(weights.vae), vae_options);
  if (!vae.ok()) return vae.status().WithContext(options.checkpoint + ": vae");
  engine->vae_.emplace(std::move(vae).value());
  return engine;
}

StatusOr<at::Tensor> Engine::EncodePrompt(const std::string& prompt, int64_t clip_skip,
                                          int64_t pad_to_chunks, const EmbeddingSet* embeddings) {
  PromptChunkOptions options;
  options.embeddings = embeddings;
  FARM_ASSIGN_OR_RETURN(TokenizedPrompt tokens, TokenizePrompt(*tokenizer_, prompt, options));
  while (static_cast<int64_t>(tokens.chunks.size()) < pad_to_chunks) {
    tokens.chunks.push_back(EmptyPromptChunk(*tokenizer_));
  }
  return EncodeChunks(tokens.chunks, clip_skip);
}

StatusOr<at::Tensor> Engine::EncodeChunks(const std::vector<PromptChunk>& chunks, int64_t clip_skip) {
  at::NoGradGuard no_grad;
  at::Tensor ids = ChunkIdsTensor(chunks).to(device_);
  at::Tensor z;
  if (HasEmbeddingFixes(chunks)) {
    // A1111's EmbeddingsWithFixes: the token lookup, then the embeddings' rows replaced.
    FARM_ASSIGN_OR_RETURN(at::Tensor token_embeddings, text_->TokenEmbeddings(ids));
    FARM_RETURN_IF_ERROR(SubstituteEmbeddings(token_embeddings, chunks));
    FARM_ASSIGN_OR_RETURN(z, text_->ForwardEmbeddings(token_embeddings, static_cast<int>(clip_skip)));
  } else {
    FARM_ASSIGN_OR_RETURN(z, text_->Forward(ids, static_cast<int>(clip_skip)));
  }
  z = z.to(at::kFloat).reshape({1, -1, z.size(-1)});
  return ApplyPromptWeights(z, ChunkWeights(chunks));
}

StatusOr<std::vector<LoraRequest>> Engine::ResolveLoras(const RenderRequest& request,
                                                        std::string& prompt,
                                                        std::string& negative) const {
  std::vector<LoraRequest> loras = request.loras;
  FARM_ASSIGN_OR_RETURN(LoraExtraction positive, ExtractLoraTags(request.prompt));
  auto neg = ExtractLoraTags(request.negative_prompt);
  if (!neg.ok()) return neg.status().WithContext("negative prompt");
  prompt = positive.prompt;
  negative = neg->prompt;
  std::vector<LoraTag> tags = positive.loras;
  tags.insert(tags.end(), neg->loras.begin(), neg->loras.end());
  for (const LoraTag& tag : tags) {
    std::string found;
    for (const std::string& dir : options_.lora_dirs) {
      fs::path candidate = fs::path(dir) / (tag.name + ".safetensors");
      if (fs::is_regular_file(candidate)) {
        found = candidate.string();
        break;
      }
    }
    if (found.empty()) {
      std::string searched;
      for (const std::string& dir : options_.lora_dirs) searched += (searched.empty() ? "" : ", ") + dir;
      return NotFound("prompt tag <lora:" + tag.name + ">: no " + tag.name +
                      ".safetensors in the LoRA folders (" +
                      (searched.empty() ? std::string("none configured") : searched) + ")");
    }
    loras.push_back({found, tag.weight});
  }
  return loras;
}

StatusOr<at::Tensor> Engine::EncodeImage(const at::Tensor& image01) {
  at::Tensor x = image01.to(device_, at::kFloat).unsqueeze(0) * 2 - 1;
  FARM_ASSIGN_OR_RETURN(VaePosterior posterior, vae_->Encode(x));
  // The posterior mean rather than a sample: deterministic, and the sample's spread is
  // tiny next to the noise img2img adds.
  return posterior.mean * kVaeScalingFactor;
}

StatusOr<const ControlNet*> Engine::LoadControlNet(const std::string& path) {
  auto cached = controlnets_.find(path);
  if (cached != controlnets_.end()) return cached->second.get();
  UNetArchitecture base;
  base.heads = unet_->options().num_heads;
  base.norm_groups = unet_->options().norm_groups;
  StatusOr<UNetArchitecture> hints = ReadControlNetHints(path, base);
  if (!hints.ok()) return hints.status().WithContext("controlnet " + path);
  UNetOptions options = unet_->options();
  options.num_heads = hints->heads;
  options.norm_groups = hints->norm_groups;
  StatusOr<ControlNet> net = ControlNet::Load(path, options, compute_dtype_, device_);
  if (!net.ok()) return net.status().WithContext("controlnet");
  Status fits = net->CheckFits(*unet_);
  if (!fits.ok()) return fits.WithContext("controlnet " + path);
  auto owned = std::make_unique<ControlNet>(std::move(net).value());
  const ControlNet* loaded = owned.get();
  controlnets_.emplace(path, std::move(owned));
  return loaded;
}

StatusOr<std::vector<const ControlNet*>> Engine::PrepareControlNets(const RenderRequest& request) {
  // Keep only what this request uses: a full-size ControlNet is 0.7-1.4 GB.
  for (auto it = controlnets_.begin(); it != controlnets_.end();) {
    bool used = false;
    for (const ControlNetUnit& unit : request.controlnets) used = used || unit.model == it->first;
    it = used ? std::next(it) : controlnets_.erase(it);
  }
  std::vector<const ControlNet*> nets;
  for (const ControlNetUnit& unit : request.controlnets) {
    FARM_ASSIGN_OR_RETURN(const ControlNet* net, LoadControlNet(unit.model));
    nets.push_back(net);
  }
  return nets;
}

StatusOr<at::Tensor> Engine::Sample(const RenderRequest& request, const at::Tensor& uncond,
                                    const at::Tensor& cond,
                                    const std::vector<const ControlNet*>& controlnets,
                                    RenderOutput& out, const ProgressCallback& on_progress) {
  int64_t& steps_run = out.steps_run;
  FARM_ASSIGN_OR_RETURN(SamplerSpec spec, ParseSamplerSpec(request.sampler));
  FARM_ASSIGN_OR_RETURN(Schedule schedule, MakeSchedule(spec, request.steps, request.semantics));
  const int64_t n = request.batch;
  const int64_t factor = vae_->downscale_factor();
  const std::vector<int64_t> shape = {n, vae_->latent_channels(), request.height / factor,
                                      request.width / factor};
  const auto latent_options = at::TensorOptions().dtype(at::kFloat).device(device_);

  at::Tensor context = at::cat({uncond.expand({n, -1, -1}), cond.expand({n, -1, -1})})
                           .to(compute_dtype_)
                           .contiguous();
  // The hints as [1, C, H, W]: one image steers every row of the CFG batch.
  std::vector<at::Tensor> hints;
  for (const ControlNetUnit& unit : request.controlnets) {
    hints.push_back(unit.hint.unsqueeze(0).to(device_, compute_dtype_));
  }
  int64_t start = 0;
  steps_run = request.steps;
  if (request.init_image) {
    FARM_ASSIGN_OR_RETURN(start, Img2ImgStart(request.steps, request.strength));
    steps_run = request.steps - start;
  }
  int64_t step_in_run = 0;  // advanced by the after-step hook; DPM++ SDE's midpoint call shares it
  auto cancelled = [&request] { return request.cancelled && request.cancelled(); };

  EpsModel model = [&](const at::Tensor& x_in, double, double timestep) -> StatusOr<at::Tensor> {
    at::Tensor t = at::full({x_in.size(0)}, timestep, latent_options);
    const at::Tensor x = x_in.to(compute_dtype_);
    std::optional<ControlResiduals> control;
    for (size_t u = 0; u < controlnets.size(); ++u) {
      const ControlNetUnit& unit = request.controlnets[u];
      if (!UnitActive(unit, step_in_run, steps_run)) continue;
      const auto control_start = std::chrono::steady_clock::now();
      StatusOr<ControlResiduals> r = controlnets[u]->Forward(x, t, context, hints[u], unit.scale);
      out.seconds.controlnet += SecondsSince(control_start);
      if (!r.ok()) return r.status().WithContext("controlnet " + std::to_string(u) + " (" + unit.model + ")");
      if (!control) {
        control = std::move(r).value();
        continue;
      }
      for (size_t i = 0; i < control->down.size(); ++i) control->down[i].add_(r->down[i]);
      control->mid.add_(r->mid);
    }
    // A ControlNet costs about what the UNet does: worth one more look.
    if (control && cancelled()) {
      return RenderCancelled("step " + std::to_string(step_in_run) + "/" + std::to_string(steps_run) +
                             " (after its ControlNets)");
    }
    const auto unet_start = std::chrono::steady_clock::now();
    FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet_->Forward(x, t, context, control ? &*control : nullptr));
    out.seconds.unet += SecondsSince(unet_start);
    return eps.to(at::kFloat);
  };
  CfgDenoiser denoiser(model, request.cfg_scale);
  SeededNoise noise(request.seed, n);
  SamplerOptions sampler_options;
  sampler_options.on_progress = on_progress;
  sampler_options.start_step = start;
  sampler_options.cancelled = request.cancelled;
  sampler_options.after_step = [&](int64_t i, const at::Tensor& latent, double) -> StatusOr<at::Tensor> {
    step_in_run = i + 1 - start;
    return latent;
  };

  if (!request.init_image) {
    FARM_ASSIGN_OR_RETURN(at::Tensor x, Txt2ImgStartLatent(noise, shape, schedule, latent_options));
    return farm::sd::Sample(spec.sampler, denoiser, schedule, x, noise, sampler_options);
  }

  if (cancelled()) return RenderCancelled("VAE encode");
  const auto encode_start = std::chrono::steady_clock::now();
  FARM_ASSIGN_OR_RETURN(at::Tensor init_one, EncodeImage(*request.init_image));
  out.seconds.vae += SecondsSince(encode_start);
  at::Tensor init = init_one.expand(shape).contiguous();
  FARM_ASSIGN_OR_RETURN(at::Tensor x, Img2ImgStartLatent(noise, init, schedule, start));
  if (!request.mask) return farm::sd::Sample(spec.sampler, denoiser, schedule, x, noise, sampler_options);

  // Inpaint: outside the mask the latent follows the original image, noised to the
  // level of each step with the same noise the start latent got.
  const double start_sigma = schedule.sigmas[start];
  at::Tensor start_noise = start_sigma > 0 ? (x - init) / start_sigma : at::zeros_like(x);
  at::Tensor keep_mask = request.mask->to(device_, at::kFloat).reshape({1, 1, request.height, request.width});
  at::Tensor repaint = at::adaptive_avg_pool2d(keep_mask, {shape[2], shape[3]});
  auto blend = [&](const at::Tensor& latent, double sigma) {
    return latent * repaint + (init + start_noise * sigma) * (1 - repaint);
  };
  sampler_options.after_step = [&](int64_t i, const at::Tensor& latent, double sigma) -> StatusOr<at::Tensor> {
    step_in_run = i + 1 - start;
    return blend(latent, sigma);
  };
  FARM_ASSIGN_OR_RETURN(at::Tensor result,
                        farm::sd::Sample(spec.sampler, denoiser, schedule, x, noise, sampler_options));
  return blend(result, 0.0);
}

StatusOr<RenderOutput> Engine::Render(const RenderRequest& request,
                                      const ProgressCallback& on_progress) {
  FARM_RETURN_IF_ERROR(ValidateRequest(request, vae_->downscale_factor(), text_->num_layers()));
  try {
    at::NoGradGuard no_grad;
    std::string prompt, negative;
    FARM_ASSIGN_OR_RETURN(std::vector<LoraRequest> lora_requests, ResolveLoras(request, prompt, negative));

    RenderOutput out;
    std::vector<std::shared_ptr<const LoraFile>> files;
    files.reserve(lora_requests.size());
    std::vector<LoraApplication> applications;
    for (const LoraRequest& lora : lora_requests) {
      std::shared_ptr<const LoraFile> file = lora.file;
      if (!file) {
        FARM_ASSIGN_OR_RETURN(LoraFile read, ReadLoraFile(lora.path));
        file = std::make_shared<const LoraFile>(std::move(read));
      }
      files.push_back(std::move(file));
      out.loras_applied.push_back(lora.path + ":" + std::to_string(lora.multiplier));
    }
    for (size_t i = 0; i < files.size(); ++i) applications.push_back({files[i].get(), lora_requests[i].multiplier});
    std::vector<LoraComponent> components = {
        {"unet", std::string(kLoraUnetPrefix), &unet_->weights()},
        {"text_encoder", std::string(kLoraTextEncoderPrefix), &text_->weights()},
    };
    // Unmerged when `merged` goes out of scope, also on an error return.
    FARM_ASSIGN_OR_RETURN(MergedLoras merged, MergeLoras(components, applications));

    FARM_ASSIGN_OR_RETURN(EmbeddingSet embeddings,
                          EmbeddingSet::Create(*tokenizer_, request.embeddings, text_->hidden_size()));
    PromptChunkOptions chunk_options;
    chunk_options.embeddings = &embeddings;
    FARM_ASSIGN_OR_RETURN(TokenizedPrompt cond_tokens, TokenizePrompt(*tokenizer_, prompt, chunk_options));
    auto uncond_tokens = TokenizePrompt(*tokenizer_, negative, chunk_options);
    if (!uncond_tokens.ok()) return uncond_tokens.status().WithContext("negative prompt");
    out.embeddings_used = cond_tokens.embeddings_used;
    for (const std::string& name : uncond_tokens->embeddings_used) {
      if (std::find(out.embeddings_used.begin(), out.embeddings_used.end(), name) == out.embeddings_used.end()) {
        out.embeddings_used.push_back(name);
      }
    }
    EqualizeChunkCounts(cond_tokens.chunks, uncond_tokens->chunks, *tokenizer_);
    const auto text_start = std::chrono::steady_clock::now();
    FARM_ASSIGN_OR_RETURN(at::Tensor cond, EncodeChunks(cond_tokens.chunks, request.clip_skip));
    FARM_ASSIGN_OR_RETURN(at::Tensor uncond, EncodeChunks(uncond_tokens->chunks, request.clip_skip));
    out.seconds.text += SecondsSince(text_start);

    FARM_ASSIGN_OR_RETURN(std::vector<const ControlNet*> controlnets, PrepareControlNets(request));
    for (const ControlNetUnit& unit : request.controlnets) {
      out.controlnets_applied.push_back(unit.model + ":" + Number(unit.scale) + ":" +
                                        Number(unit.guidance_start) + ":" + Number(unit.guidance_end));
    }
    FARM_ASSIGN_OR_RETURN(at::Tensor latents,
                          Sample(request, uncond, cond, controlnets, out, on_progress));
    if (request.cancelled && request.cancelled()) return RenderCancelled("VAE decode");
    const auto decode_start = std::chrono::steady_clock::now();
    FARM_ASSIGN_OR_RETURN(at::Tensor decoded, vae_->Decode(latents / kVaeScalingFactor));
    out.seconds.vae += SecondsSince(decode_start);
    FARM_RETURN_IF_ERROR(merged.Unmerge());

    out.images = ImagesToUint8(decoded);
    out.latents = latents.to(at::kCPU, at::kFloat);
    for (int64_t i = 0; i < request.batch; ++i) out.seeds.push_back(request.seed + i);
    out.threads = at::get_num_threads();
    out.device = device_.str();
    return out;
  } catch (const std::exception& e) {
    return Internal(std::string("render failed inside libtorch: ") + e.what());
  }
}

}  // namespace farm::sd
