// txt2img: the render's prompt (tone words already in it), LoRAs and its pose ControlNet
// units ("pose:<name>": the pose library's <name>.json drawn at the render size with
// letterbox). "tile" units belong to the upscale stage and are skipped here.
#include "engine_calls.h"
#include "farm/image/pose.h"
#include "farm/image/pose_render.h"

namespace farm::pipeline {

StatusOr<StageRun> RunTxt2Img(const StageContext& context) {
  FARM_ASSIGN_OR_RETURN(farm::sd::RenderRequest request, BaseRequest(context));
  const RenderParams& p = *context.params;
  StageRun run;
  int unit_index = 0;
  for (const farm::ControlNetUnit& unit : p.controlnets) {
    const std::string where = "txt2img: controlnets[" + std::to_string(unit_index++) + "]";
    if (unit.input == "tile") continue;
    if (unit.input.rfind("pose:", 0) != 0) {
      return InvalidArgument(where + ": unsupported input '" + unit.input + "' (expected pose:<name> or tile)");
    }
    const std::string pose_name = unit.input.substr(5);
    auto path = context.models->controlnets.find(unit.model_sha256);
    if (path == context.models->controlnets.end()) {
      return NotFound(where + ": no ControlNet file for sha256 " + unit.model_sha256);
    }
    if (context.models->poses_dir.empty()) return InvalidArgument(where + ": no poses folder given");
    StatusOr<farm::image::Pose> pose = farm::image::LoadPose(context.models->poses_dir, pose_name);
    if (!pose.ok()) return pose.status().WithContext(where);
    FARM_ASSIGN_OR_RETURN(farm::image::PoseMap map,
                          farm::image::RenderPoseMap(*pose, p.width, p.height));
    farm::sd::ControlNetUnit engine_unit;
    engine_unit.model = path->second;
    engine_unit.hint = ImageToTensor01(map.image);
    engine_unit.scale = unit.weight;
    engine_unit.guidance_start = unit.guidance_start;
    engine_unit.guidance_end = unit.guidance_end;
    request.controlnets.push_back(std::move(engine_unit));
    run.applied["controlnet_" + std::to_string(request.controlnets.size() - 1)] =
        unit.input + ":" + std::to_string(unit.weight);
  }
  StatusOr<farm::image::Image> image = RenderOne(context, request);
  if (!image.ok()) return image.status().WithContext("txt2img");
  run.image = std::move(*image);
  run.applied["sampler"] = request.sampler;
  run.applied["steps"] = static_cast<std::int64_t>(request.steps);
  run.applied["cfg"] = request.cfg_scale;
  run.applied["seed"] = static_cast<std::int64_t>(request.seed);
  run.applied["size"] = std::to_string(request.width) + "x" + std::to_string(request.height);
  return run;
}

}  // namespace farm::pipeline
