#include "farm/sd/check_reference.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "farm/sd/checkpoint.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/controlnet.h"
#include "farm/sd/denoiser.h"
#include "farm/sd/engine.h"
#include "farm/sd/json.h"
#include "farm/sd/lora.h"
#include "farm/sd/noise.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/sampler.h"
#include "farm/sd/sampler_names.h"
#include "farm/sd/schedule.h"
#include "farm/sd/unet.h"
#include "farm/sd/vae.h"

namespace farm::sd {
namespace fs = std::filesystem;
namespace {

// The reference's recorded sampler runs: tensor prefix -> front-end sampler name.
const std::pair<const char*, const char*> kSamplerCases[] = {
    {"euler", "Euler"},
    {"euler_a", "Euler a"},
    {"euler_karras", "Euler Karras"},
    {"dpmpp_2m", "DPM++ 2M"},
    {"dpmpp_2m_karras", "DPM++ 2M Karras"},
    {"dpmpp_sde_karras", "DPM++ SDE Karras"},
    {"ddim", "DDIM"},
};

struct Hints {
  int64_t unet_heads = 8, unet_groups = 32, vae_groups = 32, clip_heads = 0;
  // The ControlNet's own config when the set has one; the UNet's counts otherwise.
  std::optional<int64_t> controlnet_heads, controlnet_groups;
  double clip_eps = 1e-5;
  double guidance = 7.0;
};

std::optional<int64_t> IntAt(const Json& doc, const char* object, const char* key) {
  const Json* o = doc.Find(object);
  const Json* v = o ? o->Find(key) : nullptr;
  if (v && v->is_array() && !v->items().empty()) v = &v->items().front();
  return v ? v->AsInt64() : std::nullopt;
}

StatusOr<Hints> ReadHints(const fs::path& config_path) {
  std::ifstream in(config_path);
  if (!in) return NotFound(config_path.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  if (!doc.ok()) return doc.status().WithContext(config_path.string());
  Hints h;
  if (auto v = IntAt(*doc, "unet_diffusers_config", "attention_head_dim")) h.unet_heads = *v;
  if (auto v = IntAt(*doc, "unet_diffusers_config", "norm_num_groups")) h.unet_groups = *v;
  if (auto v = IntAt(*doc, "vae_diffusers_config", "norm_num_groups")) h.vae_groups = *v;
  if (auto v = IntAt(*doc, "clip_config", "num_attention_heads")) h.clip_heads = *v;
  h.controlnet_heads = IntAt(*doc, "controlnet_diffusers_config", "attention_head_dim");
  h.controlnet_groups = IntAt(*doc, "controlnet_diffusers_config", "norm_num_groups");
  if (const Json* c = doc->Find("clip_config"); c && c->Find("layer_norm_eps")) {
    h.clip_eps = c->Find("layer_norm_eps")->number();
  }
  if (const Json* t = doc->Find("txt2img"); t && t->Find("guidance_scale")) {
    h.guidance = t->Find("guidance_scale")->number();
  }
  return h;
}

// The reference tensors with lookups that say what is missing.
class ReferenceTensors {
 public:
  explicit ReferenceTensors(TensorMap tensors) : tensors_(std::move(tensors)) {}
  bool Has(const std::string& name) const { return tensors_.count(name) > 0; }
  const at::Tensor& Get(const std::string& name) const { return tensors_.at(name); }

 private:
  TensorMap tensors_;
};

class Checker {
 public:
  Checker(const ReferenceCheckOptions& options, ReferenceCheckReport& report)
      : options_(options), report_(report) {}

  void Rel(const std::string& name, const at::Tensor& actual, const at::Tensor& expected) {
    report_.rows.push_back(CompareToReference(name, actual, expected, options_.tolerance));
  }
  void Abs(const std::string& name, const at::Tensor& actual, const at::Tensor& expected, double atol) {
    report_.rows.push_back(CompareAbsolute(name, actual, expected, atol));
  }
  void Levels(const std::string& name, const at::Tensor& actual, const at::Tensor& expected) {
    report_.rows.push_back(CompareUint8(name, actual, expected, options_.uint8_max_step));
  }
  void Skip(const std::string& what) { report_.skipped.push_back(what); }
  const ReferenceCheckOptions& options() const { return options_; }

 private:
  const ReferenceCheckOptions& options_;
  ReferenceCheckReport& report_;
};

Status CheckClip(const ClipTextModel& clip, const ReferenceTensors& io, const std::string& prefix,
                 Checker& check) {
  if (!io.Has("clip_input_ids")) return Status::Ok();
  const at::Tensor& ids = io.Get("clip_input_ids");
  if (io.Has(prefix + "clip_last_hidden_state")) {
    FARM_ASSIGN_OR_RETURN(at::Tensor last, clip.Forward(ids, 1));
    check.Rel(prefix + "clip_last_hidden_state", last, io.Get(prefix + "clip_last_hidden_state"));
  }
  if (io.Has(prefix + "clip_penultimate_ln")) {
    FARM_ASSIGN_OR_RETURN(at::Tensor penultimate, clip.Forward(ids, 2));
    check.Rel(prefix + "clip_penultimate_ln", penultimate, io.Get(prefix + "clip_penultimate_ln"));
  }
  if (prefix.empty() && io.Has("clip_hidden_states_0")) {
    FARM_ASSIGN_OR_RETURN(std::vector<at::Tensor> states, clip.HiddenStates(ids));
    for (size_t i = 0; io.Has("clip_hidden_states_" + std::to_string(i)); ++i) {
      const std::string name = "clip_hidden_states_" + std::to_string(i);
      if (i >= states.size()) return DataLoss(name + ": the model has only " + std::to_string(states.size()) + " hidden states");
      check.Rel(name, states[i], io.Get(name));
    }
  }
  return Status::Ok();
}

Status CheckUNet(const UNet& unet, const ReferenceTensors& io, const std::string& output,
                 Checker& check) {
  if (!io.Has("unet_sample") || !io.Has(output)) return Status::Ok();
  DebugTaps taps;
  FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet.Forward(io.Get("unet_sample"), io.Get("unet_timesteps"),
                                                     io.Get("unet_encoder_hidden_states"), nullptr,
                                                     output == "unet_eps" ? &taps : nullptr));
  check.Rel(output, eps, io.Get(output));
  for (const auto& [tap, value] : taps) {
    if (io.Has("unet_dbg_" + tap)) check.Rel("unet_dbg_" + tap, value, io.Get("unet_dbg_" + tap));
  }
  if (output == "unet_eps" && io.Has("unet_timesteps_float") && io.Has("unet_eps_float_t")) {
    FARM_ASSIGN_OR_RETURN(at::Tensor eps_float, unet.Forward(io.Get("unet_sample"), io.Get("unet_timesteps_float"),
                                                             io.Get("unet_encoder_hidden_states")));
    check.Rel("unet_eps_float_t", eps_float, io.Get("unet_eps_float_t"));
  }
  return Status::Ok();
}

Status CheckVae(const Vae& vae, const ReferenceTensors& io, Checker& check) {
  if (io.Has("vae_encode_image")) {
    FARM_ASSIGN_OR_RETURN(VaePosterior posterior, vae.Encode(io.Get("vae_encode_image")));
    if (io.Has("vae_encode_moments")) check.Rel("vae_encode_moments", posterior.moments, io.Get("vae_encode_moments"));
    if (io.Has("vae_encode_mean")) check.Rel("vae_encode_mean", posterior.mean, io.Get("vae_encode_mean"));
    if (io.Has("vae_encode_logvar")) check.Rel("vae_encode_logvar", posterior.logvar, io.Get("vae_encode_logvar"));
    at::Tensor std = at::exp(0.5 * posterior.logvar);
    if (io.Has("vae_encode_std")) check.Rel("vae_encode_std", std, io.Get("vae_encode_std"));
    if (io.Has("vae_encode_noise")) {
      at::Tensor sample = posterior.mean + std * io.Get("vae_encode_noise");
      if (io.Has("vae_encode_sample")) check.Rel("vae_encode_sample", sample, io.Get("vae_encode_sample"));
      if (io.Has("vae_encode_sample_scaled")) {
        check.Rel("vae_encode_sample_scaled", sample * kVaeScalingFactor, io.Get("vae_encode_sample_scaled"));
      }
    }
  }
  if (io.Has("vae_decode_latent") && io.Has("vae_decode_input")) {
    check.Rel("vae_decode_input", io.Get("vae_decode_latent") / kVaeScalingFactor, io.Get("vae_decode_input"));
  }
  if (io.Has("vae_decode_input")) {
    DebugTaps taps;
    FARM_ASSIGN_OR_RETURN(at::Tensor image, vae.Decode(io.Get("vae_decode_input"), &taps));
    if (io.Has("vae_decode_output")) check.Rel("vae_decode_output", image, io.Get("vae_decode_output"));
    if (io.Has("vae_decode_uint8")) check.Levels("vae_decode_uint8", ImagesToUint8(image), io.Get("vae_decode_uint8"));
    for (const auto& [tap, value] : taps) {
      if (io.Has("vae_dbg_" + tap)) check.Rel("vae_dbg_" + tap, value, io.Get("vae_dbg_" + tap));
    }
  }
  return Status::Ok();
}

// A step counter shared by the model wrapper and the after-step hook.
struct TrajectoryProbe {
  int64_t model_calls = 0;
};

Status CheckSampler(const std::string& prefix, const std::string& sampler_name, const UNet& unet,
                    const Vae& vae, const ReferenceTensors& io, double guidance, Checker& check) {
  auto t = [&](const std::string& suffix) { return prefix + "_" + suffix; };
  if (!io.Has(t("sigmas")) || !io.Has("txt2img_noise") || !io.Has("txt2img_cond_embeds")) return Status::Ok();
  auto spec = ParseSamplerSpec(sampler_name);
  if (!spec.ok()) return spec.status();
  const int64_t steps = io.Get(t("sigmas")).numel() - 1;
  FARM_ASSIGN_OR_RETURN(Schedule schedule,
                        MakeSchedule(*spec, steps, ScheduleSemantics::kDiffusersReference));
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor sigmas = at::tensor(schedule.sigmas, f64);
  check.Abs(t("sigmas"), sigmas, io.Get(t("sigmas")).to(at::kDouble), check.options().sigma_atol);
  if (io.Has(t("timesteps"))) {
    at::Tensor timesteps = at::tensor(schedule.timesteps, f64).to(at::kFloat);
    check.Abs(t("timesteps"), timesteps, io.Get(t("timesteps")).to(at::kFloat), 0.0);
  }

  // The reference's DPM-Solver and DDIM keep latents in VP scaling, x_vp = x / sqrt(sigma^2 + 1).
  const bool vp_latents = spec->sampler == SamplerKind::kDpmpp2M || spec->sampler == SamplerKind::kDdim;
  auto as_reference = [&](const at::Tensor& x, double sigma) {
    return vp_latents ? x / std::sqrt(sigma * sigma + 1) : x;
  };

  const at::Tensor& noise0 = io.Get("txt2img_noise");
  std::vector<at::Tensor> recorded = {noise0};
  for (int64_t i = 0; io.Has(t("step" + std::to_string(i) + "_noise")); ++i) {
    recorded.push_back(io.Get(t("step" + std::to_string(i) + "_noise")));
  }
  RecordedNoise noise(recorded);
  FARM_ASSIGN_OR_RETURN(at::Tensor x, Txt2ImgStartLatent(noise, noise0.sizes(), schedule,
                                                         noise0.options()));
  if (io.Has(t("init_noise_sigma"))) {
    const double expected = io.Get(t("init_noise_sigma")).item<double>();
    const double actual = vp_latents ? 1.0 : schedule.init_noise_sigma;
    check.Abs(t("init_noise_sigma"), at::tensor({actual}, f64), at::tensor({expected}, f64), check.options().sigma_atol);
  }
  if (io.Has(t("latent_0"))) check.Rel(t("latent_0"), as_reference(x, schedule.sigmas[0]), io.Get(t("latent_0")));

  at::Tensor context = at::cat({io.Get("txt2img_uncond_embeds"), io.Get("txt2img_cond_embeds")});
  int64_t step = 0;
  EpsModel model = [&](const at::Tensor& x_in, double sigma, double timestep) -> StatusOr<at::Tensor> {
    const std::string s = "step" + std::to_string(step) + "_";
    if (io.Has(t(s + "unet_input"))) check.Rel(t(s + "unet_input"), x_in, io.Get(t(s + "unet_input")));
    at::Tensor ts = at::full({x_in.size(0)}, timestep, x_in.options());
    FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet.Forward(x_in, ts, context));
    const int64_t n = x_in.size(0) / 2;
    at::Tensor uncond = eps.narrow(0, 0, n), cond = eps.narrow(0, n, n);
    if (io.Has(t(s + "eps_uncond"))) check.Rel(t(s + "eps_uncond"), uncond, io.Get(t(s + "eps_uncond")));
    if (io.Has(t(s + "eps_cond"))) check.Rel(t(s + "eps_cond"), cond, io.Get(t(s + "eps_cond")));
    at::Tensor guided = uncond + guidance * (cond - uncond);
    if (io.Has(t(s + "eps_guided"))) check.Rel(t(s + "eps_guided"), guided, io.Get(t(s + "eps_guided")));
    if (io.Has(t(s + "x0"))) {
      // The denoised estimate D = x - sigma * eps, the same in both scalings.
      at::Tensor latent = x_in.narrow(0, 0, n) * std::sqrt(sigma * sigma + 1);
      check.Rel(t(s + "x0"), latent - sigma * guided, io.Get(t(s + "x0")));
    }
    return eps;
  };
  CfgDenoiser denoiser(model, guidance);
  SamplerOptions sampler_options;
  sampler_options.after_step = [&](int64_t i, const at::Tensor& latent, double sigma) -> StatusOr<at::Tensor> {
    const std::string name = t("step" + std::to_string(i) + "_latent");
    if (io.Has(name)) check.Rel(name, as_reference(latent, sigma), io.Get(name));
    step = i + 1;
    return latent;
  };
  FARM_ASSIGN_OR_RETURN(at::Tensor final_latent,
                        Sample(spec->sampler, denoiser, schedule, x, noise, sampler_options));
  // Sample already returns what the reference pipeline returns (schedule.output_scale).
  if (io.Has(t("final_latent"))) check.Rel(t("final_latent"), final_latent, io.Get(t("final_latent")));
  if (io.Has(t("final_image"))) {
    FARM_ASSIGN_OR_RETURN(at::Tensor image, vae.Decode(final_latent / kVaeScalingFactor));
    check.Rel(t("final_image"), image, io.Get(t("final_image")));
  }
  return Status::Ok();
}

Status CheckLora(const fs::path& lora_path, ClipTextModel& clip, UNet& unet,
                 const ReferenceTensors& io, Checker& check) {
  if (!fs::exists(lora_path) || !io.Has("lora_multiplier")) return Status::Ok();
  FARM_ASSIGN_OR_RETURN(LoraFile lora, ReadLoraFile(lora_path.string()));
  std::vector<LoraComponent> components = {
      {"unet", std::string(kLoraUnetPrefix), &unet.weights()},
      {"text_encoder", std::string(kLoraTextEncoderPrefix), &clip.weights()},
  };
  const at::Tensor& sample = io.Get("unet_sample");
  const at::Tensor& timesteps = io.Get("unet_timesteps");
  const at::Tensor& context = io.Get("unet_encoder_hidden_states");
  FARM_ASSIGN_OR_RETURN(at::Tensor base_eps, unet.Forward(sample, timesteps, context));
  {
    FARM_ASSIGN_OR_RETURN(MergedLoras merged,
                          MergeLoras(components, {{&lora, io.Get("lora_multiplier").item<double>()}}));
    FARM_RETURN_IF_ERROR(CheckClip(clip, io, "lora_", check));
    FARM_RETURN_IF_ERROR(CheckUNet(unet, io, "lora_unet_eps", check));
    FARM_RETURN_IF_ERROR(merged.Unmerge());
  }
  // Unmerging must restore the base model bit for bit.
  FARM_ASSIGN_OR_RETURN(at::Tensor restored_eps, unet.Forward(sample, timesteps, context));
  check.Abs("lora_unmerged_unet_eps", restored_eps, base_eps, 0.0);
  return Status::Ok();
}

// The ControlNet case: its residuals for the UNet's inputs and the hint image, and the
// UNet output they steer.
Status CheckControlNet(const fs::path& controlnet_path, const Hints& hints, const UNet& unet,
                       const ReferenceTensors& io, Checker& check) {
  if (!io.Has("controlnet_cond_image") || !io.Has("unet_sample")) return Status::Ok();
  if (!fs::exists(controlnet_path)) {
    check.Skip("controlnet: " + controlnet_path.filename().string() + " not in the reference folder");
    return Status::Ok();
  }
  UNetOptions options = unet.options();
  options.num_heads = hints.controlnet_heads.value_or(options.num_heads);
  options.norm_groups = hints.controlnet_groups.value_or(options.norm_groups);
  FARM_ASSIGN_OR_RETURN(ControlNet controlnet, ControlNet::Load(controlnet_path.string(), options));
  FARM_RETURN_IF_ERROR(controlnet.CheckFits(unet));
  const double scale =
      io.Has("controlnet_conditioning_scale") ? io.Get("controlnet_conditioning_scale").item<double>() : 1.0;
  FARM_ASSIGN_OR_RETURN(ControlResiduals residuals,
                        controlnet.Forward(io.Get("unet_sample"), io.Get("unet_timesteps"),
                                           io.Get("unet_encoder_hidden_states"), io.Get("controlnet_cond_image"),
                                           scale));
  for (size_t i = 0; i < residuals.down.size(); ++i) {
    const std::string name = "controlnet_down_res_" + std::to_string(i);
    if (io.Has(name)) check.Rel(name, residuals.down[i], io.Get(name));
  }
  if (io.Has("controlnet_mid_res")) check.Rel("controlnet_mid_res", residuals.mid, io.Get("controlnet_mid_res"));
  if (io.Has("controlnet_unet_eps")) {
    FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet.Forward(io.Get("unet_sample"), io.Get("unet_timesteps"),
                                                       io.Get("unet_encoder_hidden_states"), &residuals));
    check.Rel("controlnet_unet_eps", eps, io.Get("controlnet_unet_eps"));
  }
  return Status::Ok();
}

}  // namespace

bool ReferenceCheckReport::passed() const {
  if (rows.empty()) return false;
  for (const TensorComparison& row : rows) {
    if (!row.passed) return false;
  }
  return true;
}

StatusOr<ReferenceCheckReport> CheckReference(const std::string& dir_text,
                                              const ReferenceCheckOptions& options) {
  const fs::path dir(dir_text);
  ReferenceCheckReport report;
  report.dir = dir_text;
  Checker check(options, report);
  try {
    at::NoGradGuard no_grad;
    FARM_ASSIGN_OR_RETURN(Hints hints, ReadHints(dir / "tiny_config.json"));
    FARM_ASSIGN_OR_RETURN(TensorMap io_tensors, ReadSafetensors((dir / "tiny_io.safetensors").string()));
    ReferenceTensors io(std::move(io_tensors));
    FARM_ASSIGN_OR_RETURN(SdWeights weights, LoadCheckpoint((dir / "tiny_ldm.safetensors").string()));

    ClipTextOptions clip_options;
    clip_options.num_heads = hints.clip_heads;
    clip_options.layer_norm_eps = hints.clip_eps;
    FARM_ASSIGN_OR_RETURN(ClipTextModel clip, ClipTextModel::Create(std::move(weights.text_encoder), clip_options));
    UNetOptions unet_options;
    unet_options.num_heads = hints.unet_heads;
    unet_options.norm_groups = hints.unet_groups;
    FARM_ASSIGN_OR_RETURN(UNet unet, UNet::Create(std::move(weights.unet), unet_options));
    VaeOptions vae_options;
    vae_options.norm_groups = hints.vae_groups;
    FARM_ASSIGN_OR_RETURN(Vae vae, Vae::Create(std::move(weights.vae), vae_options));

    FARM_RETURN_IF_ERROR(CheckClip(clip, io, "", check));
    FARM_RETURN_IF_ERROR(CheckUNet(unet, io, "unet_eps", check));
    FARM_RETURN_IF_ERROR(CheckVae(vae, io, check));
    for (const auto& [prefix, name] : kSamplerCases) {
      Status s = CheckSampler(prefix, name, unet, vae, io, hints.guidance, check);
      if (!s.ok()) return s.WithContext(std::string("sampler ") + name);
    }
    FARM_RETURN_IF_ERROR(CheckLora(dir / "tiny_lora.safetensors", clip, unet, io, check));
    Status controlnet = CheckControlNet(dir / "tiny_controlnet.safetensors", hints, unet, io, check);
    if (!controlnet.ok()) return controlnet.WithContext("controlnet case");
  } catch (const std::exception& e) {
    return Internal(std::string("reference check failed inside libtorch: ") + e.what());
  }
  return report;
}

}  // namespace farm::sd
