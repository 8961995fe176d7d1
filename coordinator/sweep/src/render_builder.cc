#include "render_builder.h"

#include "farm/schemas/samplers.h"
#include "prompt_template.h"
#include "render_param_table.h"

namespace farm::sweep {
namespace {

std::string StringAt(const SweepSpec& spec, const GridPlan& plan, const PointValues& values,
                     const std::string& name) {
  const GridValue* v = ParamAt(spec, plan, values, name);
  return v == nullptr ? "" : std::get<std::string>(*v);
}

double NumberAt(const SweepSpec& spec, const GridPlan& plan, const PointValues& values,
                const std::string& name) {
  const GridValue* v = ParamAt(spec, plan, values, name);
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  return std::get<double>(*v);
}

// The tone stage grades with the tone's preset; settings written in the stage win.
void FillToneStage(const TonePreset& tone, StageSettings& stage) {
  stage.settings.try_emplace("white_balance_shift", tone.white_balance_shift);
  stage.settings.try_emplace("saturation", tone.saturation);
  stage.settings.try_emplace("contrast", tone.contrast);
  stage.settings.try_emplace("strength", tone.strength);
}

}  // namespace

const GridValue* ParamAt(const SweepSpec& spec, const GridPlan& plan, const PointValues& values,
                         const std::string& name) {
  int index = plan.IndexOf(name);
  if (index >= 0 && values[index] != nullptr) return values[index];
  auto it = spec.fixed.find(name);
  return it == spec.fixed.end() ? nullptr : &it->second;
}

StatusOr<RenderParams> BuildRender(const SweepSpec& spec, const GridPlan& plan,
                                   const PointValues& values, const ResolvedModels& models) {
  std::vector<std::string> required = {"prompt", "sampler", "steps", "cfg", "clip_skip", "size"};
  if (spec.train || !spec.loras.empty()) required.push_back("lora_weight");
  if (!spec.loras.empty()) required.push_back("lora");
  for (const std::string& name : required) {
    if (ParamAt(spec, plan, values, name) == nullptr) {
      return InvalidArgument("the spec has no value for '" + name +
                             "'; expected a spec validated by ParseSweepSpec");
    }
  }
  RenderParams r;
  r.tone = StringAt(spec, plan, values, "tone");
  r.pose = StringAt(spec, plan, values, "pose");
  const TonePreset* tone = r.tone.empty() ? nullptr : &spec.tones.at(r.tone);
  TemplateValues words{spec.identity.token, tone != nullptr ? tone->prompt : "", r.pose};
  r.prompt = ExpandTemplate(StringAt(spec, plan, values, "prompt"), words);
  r.negative_prompt = ExpandTemplate(spec.negative_prompt, words);

  FARM_ASSIGN_OR_RETURN(SamplerChoice sampler,
                        ParseSamplerName(StringAt(spec, plan, values, "sampler")));
  r.sampler = sampler.sampler;
  r.scheduler = sampler.scheduler;
  r.steps = static_cast<int>(NumberAt(spec, plan, values, "steps"));
  r.cfg = NumberAt(spec, plan, values, "cfg");
  r.clip_skip = static_cast<int>(NumberAt(spec, plan, values, "clip_skip"));
  if (!ParseSize(StringAt(spec, plan, values, "size"), &r.width, &r.height)) {
    return Internal("a validated size did not parse");
  }
  r.checkpoint_sha256 = models.checkpoint_sha256;
  r.vae_sha256 = models.vae_sha256;
  r.embeddings = models.embeddings;
  if (!r.pose.empty() && spec.pose_control) {
    r.controlnets.push_back(
        {models.pose_control_sha256, "pose:" + r.pose, spec.pose_control->weight, 0.0, 1.0});
  }
  const GridValue* denoise = ParamAt(spec, plan, values, "denoise");
  r.stages = spec.stages;
  for (StageSettings& stage : r.stages) {
    if (stage.kind == "img2img" && denoise != nullptr) {
      stage.settings["denoise"] = NumberAt(spec, plan, values, "denoise");
    }
    if (stage.kind == "tone" && tone != nullptr) FillToneStage(*tone, stage);
  }
  return r;
}

}  // namespace farm::sweep
