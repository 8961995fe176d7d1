#include "farm/sd/train_reference.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/train_step.h"

namespace farm::sd {
namespace fs = std::filesystem;
namespace {

struct Tolerances {
  double fwd_atol = 2e-5, fwd_rtol = 1e-4, scalar_rtol = 1e-5, grad_atol = 2e-7, grad_rtol = 1e-3;
  double upd_stable_grad = 1e-6, upd_atol = 2e-7, upd_rtol = 4e-7, upd_unstable_lr_mult = 2.5;
};

struct RunSpec {
  std::string name;
  std::string noise, timesteps;  // tensor names of its inputs
  int clip_skip = 1;
  double min_snr_gamma = 0;
  double max_norm = 1.0;
};

StatusOr<Json> ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = Json::Parse(text.str());
  if (!doc.ok()) return doc.status().WithContext(path.string());
  return doc;
}

const Json* At(const Json& doc, std::initializer_list<const char*> path) {
  const Json* node = &doc;
  for (const char* key : path) {
    node = node->is_object() ? node->Find(key) : nullptr;
    if (!node) return nullptr;
  }
  return node;
}

double NumberAt(const Json& doc, std::initializer_list<const char*> path, double fallback) {
  const Json* v = At(doc, path);
  return v && v->is_number() ? v->number() : fallback;
}

StatusOr<std::string> TextAt(const Json& doc, std::initializer_list<const char*> path, const char* what) {
  const Json* v = At(doc, path);
  if (!v || !v->is_string()) return InvalidArgument(std::string("train_config.json: no ") + what);
  return v->text();
}

// "input/noise, input/timesteps" -> the two names.
StatusOr<std::pair<std::string, std::string>> RunInputs(const std::string& text, const std::string& run) {
  const size_t comma = text.find(',');
  if (comma == std::string::npos) return InvalidArgument("run " + run + ": inputs '" + text + "' is not 'noise, timesteps'");
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  return std::pair{trim(text.substr(0, comma)), trim(text.substr(comma + 1))};
}

StatusOr<std::vector<std::vector<RunSpec>>> ReadChains(const Json& config) {
  const Json* chains = At(config, {"chains"});
  const Json* runs = At(config, {"runs"});
  if (!chains || !chains->is_array() || !runs) return InvalidArgument("train_config.json: no chains/runs");
  std::vector<std::vector<RunSpec>> out;
  for (const Json& chain : chains->items()) {
    std::vector<RunSpec> specs;
    for (const Json& name : chain.items()) {
      const Json* run = runs->Find(name.text());
      if (!run) return InvalidArgument("train_config.json: chain names unknown run " + name.text());
      RunSpec spec;
      spec.name = name.text();
      FARM_ASSIGN_OR_RETURN(std::string inputs, TextAt(*run, {"inputs"}, "run inputs"));
      FARM_ASSIGN_OR_RETURN(auto pair, RunInputs(inputs, spec.name));
      spec.noise = pair.first;
      spec.timesteps = pair.second;
      spec.clip_skip = static_cast<int>(NumberAt(*run, {"clip_skip"}, 1));
      spec.max_norm = NumberAt(*run, {"max_norm"}, 1.0);
      FARM_ASSIGN_OR_RETURN(std::string loss, TextAt(*run, {"loss"}, "run loss"));
      if (loss.rfind("min_snr", 0) == 0) {
        spec.min_snr_gamma = std::stod(loss.substr(7));
      } else if (loss != "mse") {
        return InvalidArgument("run " + spec.name + ": unknown loss '" + loss + "'");
      }
      specs.push_back(std::move(spec));
    }
    out.push_back(std::move(specs));
  }
  return out;
}

// Worst |a - b| / (atol + rtol |b|) of a set of tensors, as one report row.
class RuleRow {
 public:
  RuleRow(std::string name, double atol, double rtol) : atol_(atol), rtol_(rtol) { row_.name = std::move(name); }
  void Add(const at::Tensor& actual, const at::Tensor& expected) { Add(actual, expected, at::Tensor()); }
  // Only the elements where `mask` is true (all when undefined); atol may be per tensor.
  void Add(const at::Tensor& actual_in, const at::Tensor& expected_in, const at::Tensor& mask, double atol = -1) {
    if (actual_in.sizes() != expected_in.sizes()) {
      shapes_ok_ = false;
      row_.shape_note = "shape mismatch";
      return;
    }
    at::Tensor a = actual_in.to(at::kDouble), e = expected_in.to(at::kDouble);
    at::Tensor diff = (a - e).abs(), allowed = (atol >= 0 ? atol : atol_) + rtol_ * e.abs();
    if (mask.defined()) {
      diff = diff.masked_select(mask);
      allowed = allowed.masked_select(mask);
      e = e.masked_select(mask);
    }
    if (diff.numel() == 0) return;
    compared_ = true;
    row_.max_abs = std::max(row_.max_abs, diff.max().item<double>());
    row_.scale = std::max(row_.scale, e.abs().max().item<double>());
    worst_ = std::max(worst_, (allowed.gt(0).all().item<bool>() ? (diff / allowed).max()
                                                                  : diff.max() * 1e300).item<double>());
  }
  bool compared() const { return compared_; }
  TensorComparison Done() {
    row_.shapes_match = shapes_ok_;
    row_.max_rel = worst_;
    row_.tolerance = 1.0;
    row_.limit = "ratio";
    row_.passed = shapes_ok_ && worst_ <= 1.0;
    return row_;
  }

 private:
  double atol_, rtol_;
  double worst_ = 0;
  bool shapes_ok_ = true, compared_ = false;
  TensorComparison row_;
};

TensorComparison Failure(const std::string& name, const std::string& note) {
  TensorComparison row;
  row.name = name;
  row.shape_note = note;
  row.passed = false;
  row.limit = "ratio";
  row.tolerance = 1.0;
  return row;
}

class TrainCheck {
 public:
  TrainCheck(const fs::path& dir, ReferenceCheckReport& report) : dir_(dir), report_(report) {}

  Status Run() {
    FARM_ASSIGN_OR_RETURN(config_, ReadJson(dir_ / "train_config.json"));
    ReadTolerances();
    FARM_ASSIGN_OR_RETURN(io_, ReadSafetensors((dir_ / "train_io.safetensors").string()));
    FARM_ASSIGN_OR_RETURN(TensorMap init_file, ReadSafetensors((dir_ / "lora_init.safetensors").string()));
    lora_init_ = std::move(init_file);
    FARM_RETURN_IF_ERROR(LoadModels());
    FARM_RETURN_IF_ERROR(CreateNetwork());
    FARM_RETURN_IF_ERROR(CheckSchedule());
    FARM_RETURN_IF_ERROR(CheckBaseForward());
    FARM_ASSIGN_OR_RETURN(auto chains, ReadChains(config_));
    for (const auto& chain : chains) FARM_RETURN_IF_ERROR(RunChain(chain));
    return Status::Ok();
  }

 private:
  void ReadTolerances() {
    const Json* t = At(config_, {"suggested_tolerances"});
    if (!t) return;
    auto read = [&](const char* key, double* value) {
      if (const Json* v = t->Find(key); v && v->is_number()) *value = v->number();
    };
    read("fwd_atol", &tol_.fwd_atol);
    read("fwd_rtol", &tol_.fwd_rtol);
    read("scalar_rtol", &tol_.scalar_rtol);
    read("grad_atol", &tol_.grad_atol);
    read("grad_rtol", &tol_.grad_rtol);
    read("upd_stable_grad", &tol_.upd_stable_grad);
    read("upd_atol", &tol_.upd_atol);
    read("upd_rtol", &tol_.upd_rtol);
    read("upd_unstable_lr_mult", &tol_.upd_unstable_lr_mult);
  }

  Status LoadModels() {
    FARM_ASSIGN_OR_RETURN(std::string checkpoint, TextAt(config_, {"base_model", "checkpoint"}, "base_model.checkpoint"));
    FARM_ASSIGN_OR_RETURN(SdWeights weights, LoadCheckpoint((dir_ / checkpoint).string()));
    ClipTextOptions clip;
    clip.num_heads = static_cast<int64_t>(NumberAt(config_, {"base_model", "clip_config", "num_attention_heads"}, 0));
    clip.layer_norm_eps = NumberAt(config_, {"base_model", "clip_config", "layer_norm_eps"}, 1e-5);
    FARM_ASSIGN_OR_RETURN(ClipTextModel text, ClipTextModel::Create(std::move(weights.text_encoder), clip));
    UNetOptions unet;
    unet.num_heads = static_cast<int64_t>(NumberAt(config_, {"base_model", "unet_diffusers_config", "attention_head_dim"}, 8));
    unet.norm_groups = static_cast<int64_t>(NumberAt(config_, {"base_model", "unet_diffusers_config", "norm_num_groups"}, 32));
    FARM_ASSIGN_OR_RETURN(UNet u, UNet::Create(std::move(weights.unet), unet));
    text_ = std::make_unique<ClipTextModel>(std::move(text));
    unet_ = std::make_unique<UNet>(std::move(u));
    return Status::Ok();
  }

  Status CreateNetwork() {
    LoraNetworkOptions options;
    options.rank = static_cast<int64_t>(NumberAt(config_, {"lora", "rank"}, 0));
    options.alpha = NumberAt(config_, {"lora", "alpha"}, 0);
    options.multiplier = NumberAt(config_, {"lora", "multiplier"}, 1.0);
    FARM_ASSIGN_OR_RETURN(network_, LoraNetwork::Create(*unet_, *text_, options));
    // The reference's parameter order is the clip-norm summation order.
    const Json* params = At(config_, {"lora", "params"});
    std::vector<std::string> order;
    if (params) {
      for (const Json& p : params->items()) {
        if (const Json* n = p.Find("name")) order.push_back(n->text());
        if (const Json* lr = p.Find("lr"); lr && p.Find("name")) lr_[p.Find("name")->text()] = lr->number();
      }
    }
    std::vector<std::string> ours;
    for (const LoraParam& p : network_->params()) ours.push_back(p.name);
    if (order != ours) report_.rows.push_back(Failure("lora/param_order", "network parameter order differs from lora.params"));
    const Json* groups = At(config_, {"optimizer", "param_groups"});
    if (groups && groups->items().size() == 2) {
      text_lr_ = groups->items()[0].Find("lr")->number();
      unet_lr_ = groups->items()[1].Find("lr")->number();
    }
    adam_.beta1 = NumberAt(config_, {"optimizer", "betas"}, 0.9);
    if (const Json* betas = At(config_, {"optimizer", "betas"}); betas && betas->items().size() == 2) {
      adam_.beta1 = betas->items()[0].number();
      adam_.beta2 = betas->items()[1].number();
    }
    adam_.eps = NumberAt(config_, {"optimizer", "eps"}, 1e-8);
    adam_.weight_decay = NumberAt(config_, {"optimizer", "weight_decay"}, 1e-2);
    return network_->Load(lora_init_, "lora_init.safetensors");
  }

  bool Has(const std::string& name) const { return io_.count(name) > 0; }
  const at::Tensor& Get(const std::string& name) const { return io_.at(name); }

  void Compare(const std::string& name, const at::Tensor& actual, double atol, double rtol) {
    if (!Has(name)) return;
    RuleRow row(name, atol, rtol);
    row.Add(actual, Get(name));
    report_.rows.push_back(row.Done());
  }

  Status CheckSchedule() {
    FARM_ASSIGN_OR_RETURN(TrainingSchedule schedule,
                          TrainingSchedule::ScaledLinear(
                              NumberAt(config_, {"noise_schedule", "beta_start"}, 0.00085),
                              NumberAt(config_, {"noise_schedule", "beta_end"}, 0.012),
                              static_cast<int64_t>(NumberAt(config_, {"noise_schedule", "num_train_timesteps"}, 1000))));
    schedule_ = MakeNoiseScheduleTensors(schedule);
    Compare("schedule/alphas_cumprod", schedule_.alphas_cumprod, 0, 0);
    Compare("schedule/all_snr", schedule_.all_snr, 0, 0);
    if (Has("input/timesteps")) {
      const at::Tensor snr = schedule_.all_snr.index_select(0, Get("input/timesteps"));
      Compare("snr/snr", snr, 0, 0);
      Compare("snr/weight_gamma5", at::minimum(snr, at::full_like(snr, 5.0)) / snr, 0, 0);
    }
    for (const auto& [noisy, noise, t] : {std::tuple{"fwd/noisy_latents", "input/noise", "input/timesteps"},
                                          std::tuple{"fwd/step2_noisy_latents", "input/step2_noise", "input/step2_timesteps"}}) {
      if (Has(noise) && Has(t) && Has("input/latents")) {
        Compare(noisy, AddNoise(schedule_, Get("input/latents"), Get(noise), Get(t)), tol_.fwd_atol, tol_.fwd_rtol);
      }
    }
    return Status::Ok();
  }

  Status CheckBaseForward() {
    at::NoGradGuard no_grad;
    if (!Has("input/input_ids")) return InvalidArgument("train_io.safetensors: no input/input_ids");
    FARM_ASSIGN_OR_RETURN(at::Tensor context, text_->Forward(Get("input/input_ids"), 1));
    Compare("fwd/base_encoder_hidden_states", context, tol_.fwd_atol, tol_.fwd_rtol);
    if (Has("fwd/noisy_latents") && Has("input/timesteps")) {
      FARM_ASSIGN_OR_RETURN(at::Tensor eps, unet_->Forward(Get("fwd/noisy_latents"), Get("input/timesteps"), context));
      Compare("fwd/base_eps_pred", eps, tol_.fwd_atol, tol_.fwd_rtol);
    }
    return Status::Ok();
  }

  // fwd/<run>_x, or for first steps fwd/x_<run> (other clip skips) and fwd/x.
  std::string ForwardName(const RunSpec& run, bool first, const std::string& what) const {
    for (const std::string& name : {"fwd/" + run.name + "_" + what, "fwd/" + what + "_" + run.name}) {
      if (Has(name)) return name;
    }
    if (first && run.clip_skip != 1 && Has("fwd/" + what + "_clipskip" + std::to_string(run.clip_skip))) {
      return "fwd/" + what + "_clipskip" + std::to_string(run.clip_skip);
    }
    return first && run.clip_skip == 1 ? "fwd/" + what : "";
  }

  Status RunChain(const std::vector<RunSpec>& chain) {
    FARM_RETURN_IF_ERROR(network_->Load(lora_init_, "lora_init.safetensors"));
    network_->Attach(unet_.get(), text_.get());
    AdamW optimizer(*network_, adam_);
    const std::vector<LoraParam>& params = network_->params();
    std::vector<at::Tensor> stable(params.size());  // elements with a large clipped gradient in every step
    std::vector<int> steps_with_grad(params.size(), 0);
    for (size_t step = 0; step < chain.size(); ++step) {
      const RunSpec& run = chain[step];
      if (!Has(run.noise) || !Has(run.timesteps)) return InvalidArgument("run " + run.name + ": inputs missing");
      TrainBatch batch{Get("input/latents"), Get("input/input_ids"), Get(run.noise), Get(run.timesteps)};
      network_->ZeroGrad();
      FARM_ASSIGN_OR_RETURN(LossResult loss,
                            TrainingLoss(*unet_, *text_, schedule_, batch, {run.clip_skip, run.min_snr_gamma}));
      loss.loss.backward();
      const std::string hidden = ForwardName(run, step == 0, "encoder_hidden_states");
      const std::string eps = ForwardName(run, step == 0, "eps_pred");
      if (!hidden.empty()) Compare(hidden, loss.encoder_hidden_states, tol_.fwd_atol, tol_.fwd_rtol);
      if (!eps.empty()) Compare(eps, loss.eps_pred, tol_.fwd_atol, tol_.fwd_rtol);
      Compare("loss/" + run.name, loss.loss.detach(), 0, tol_.scalar_rtol);
      Compare("loss_per_sample/" + run.name, loss.per_sample, 0, tol_.scalar_rtol);
      CompareGradients(run);
      const ClipResult clip = ClipGradNorm(*network_, run.max_norm);
      Compare("clip/" + run.name + "/total_norm", at::scalar_tensor(clip.total_norm, at::kFloat), 0, tol_.scalar_rtol);
      Compare("clip/" + run.name + "/coef", at::scalar_tensor(clip.coef, at::kFloat), 0, tol_.scalar_rtol);
      const double ref_coef = Has("clip/" + run.name + "/coef") ? Get("clip/" + run.name + "/coef").item<double>() : clip.coef;
      for (size_t i = 0; i < params.size(); ++i) {
        const std::string grad = "grad/" + run.name + "/" + params[i].name;
        if (!Has(grad)) continue;
        ++steps_with_grad[i];
        const at::Tensor large = Get(grad).abs().mul(ref_coef).ge(tol_.upd_stable_grad);
        stable[i] = stable[i].defined() ? stable[i].logical_and(large) : large;
      }
      optimizer.Step(*network_, text_lr_, unet_lr_);
      CompareUpdated(run, stable, steps_with_grad);
    }
    network_->Attach(nullptr, nullptr);
    unet_->SetAdapters(nullptr);
    text_->SetAdapters(nullptr);
    return Status::Ok();
  }

  void CompareGradients(const RunSpec& run) {
    const std::vector<LoraParam>& params = network_->params();
    RuleRow row("grad/" + run.name + " (" + std::to_string(params.size()) + " tensors)", tol_.grad_atol, tol_.grad_rtol);
    std::vector<std::string> set_mismatch;
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string name = "grad/" + run.name + "/" + params[i].name;
      const bool ours = network_->has_grad()[i] != 0;
      if (ours != Has(name)) set_mismatch.push_back(params[i].name);
      if (ours && Has(name)) row.Add(params[i].value.grad(), Get(name));
    }
    report_.rows.push_back(row.Done());
    if (!set_mismatch.empty()) {
      report_.rows.push_back(Failure("grad/" + run.name + " (which tensors have a gradient)",
                                     std::to_string(set_mismatch.size()) + " differ, first " + set_mismatch[0]));
    }
  }

  void CompareUpdated(const RunSpec& run, const std::vector<at::Tensor>& stable,
                      const std::vector<int>& steps_with_grad) {
    const std::vector<LoraParam>& params = network_->params();
    RuleRow no_grad("updated/" + run.name + " no gradient yet (exact lora_init)", 0, 0);
    RuleRow stable_row("updated/" + run.name + " stable elements", tol_.upd_atol, tol_.upd_rtol);
    RuleRow small_row("updated/" + run.name + " small-gradient elements", 0, 0);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string name = "updated/" + run.name + "/" + params[i].name;
      if (!Has(name)) continue;
      const at::Tensor ours = params[i].value.detach();
      if (steps_with_grad[i] == 0) {
        no_grad.Add(ours, lora_init_.at(params[i].name));
        continue;
      }
      const double lr = lr_.count(params[i].name) ? lr_.at(params[i].name)
                        : params[i].group == LoraGroup::kTextEncoder ? text_lr_ : unet_lr_;
      stable_row.Add(ours, Get(name), stable[i]);
      small_row.Add(ours, Get(name), stable[i].logical_not(),
                    tol_.upd_unstable_lr_mult * lr * steps_with_grad[i] + tol_.upd_atol);
    }
    for (RuleRow* row : {&no_grad, &stable_row, &small_row}) {
      if (row->compared()) report_.rows.push_back(row->Done());
    }
  }

  fs::path dir_;
  ReferenceCheckReport& report_;
  Json config_;
  Tolerances tol_;
  TensorMap io_, lora_init_;
  std::unique_ptr<ClipTextModel> text_;
  std::unique_ptr<UNet> unet_;
  std::unique_ptr<LoraNetwork> network_;
  NoiseScheduleTensors schedule_;
  AdamWOptions adam_;
  double text_lr_ = 5e-5, unet_lr_ = 1e-4;
  std::map<std::string, double> lr_;
};

}  // namespace

bool IsTrainReference(const std::string& dir) {
  return fs::exists(fs::path(dir) / "train_config.json") && fs::exists(fs::path(dir) / "train_io.safetensors");
}

StatusOr<ReferenceCheckReport> CheckTrainReference(const std::string& dir) {
  ReferenceCheckReport report;
  report.dir = dir;
  try {
    TrainCheck check(dir, report);
    FARM_RETURN_IF_ERROR(check.Run());
  } catch (const std::exception& e) {
    return Internal(std::string("training reference check failed inside libtorch: ") + e.what());
  }
  return report;
}

}  // namespace farm::sd
