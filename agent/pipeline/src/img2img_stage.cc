// img2img: the image redrawn at its own size with a (usually reduced, "filter") prompt
// and a denoising strength. Denoise 0 returns the input unchanged.
#include "engine_calls.h"
#include "settings_reader.h"

namespace farm::pipeline {

StatusOr<StageRun> RunImg2Img(const StageContext& context, const farm::Settings& settings,
                              const farm::image::Image& input) {
  FARM_ASSIGN_OR_RETURN(farm::sd::RenderRequest request, BaseRequest(context));
  SettingsReader s("img2img", settings);
  FARM_ASSIGN_OR_RETURN(double denoise, s.Number("denoise", 0.35, 0, 1));
  FARM_ASSIGN_OR_RETURN(int steps, s.Int("steps", static_cast<int>(request.steps), 1, 150));
  FARM_ASSIGN_OR_RETURN(double cfg, s.Number("cfg", request.cfg_scale, 1, 30));
  FARM_ASSIGN_OR_RETURN(request.prompt, s.String("prompt", request.prompt));
  FARM_ASSIGN_OR_RETURN(request.negative_prompt, s.String("negative_prompt", request.negative_prompt));
  FARM_RETURN_IF_ERROR(s.Finish());
  request.steps = steps;
  request.cfg_scale = cfg;
  StageRun run;
  run.applied = s.applied();
  run.applied["seed"] = static_cast<std::int64_t>(request.seed);
  if (denoise == 0) {
    run.image = input;
    return run;
  }
  Img2ImgCall call;
  call.denoise = denoise;
  StatusOr<farm::image::Image> out = Img2Img(context, request, input, call);
  if (!out.ok()) return out.status().WithContext("img2img");
  run.image = std::move(*out);
  return run;
}

}  // namespace farm::pipeline
