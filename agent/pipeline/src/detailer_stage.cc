// Detailer (ADetailer-like, "inpaint only masked"): every region the target's detector
// finds (faces, hands or people) is dilated, cropped with padding, inpainted at
// `resolution` with its own prompt and denoise (seed + i for region i) and pasted back
// through a feathered mask.
#include <algorithm>
#include <cmath>

#include "engine_calls.h"
#include "farm/faceid/pipeline.h"
#include "farm/image/crop_paste.h"
#include "farm/image/resize.h"
#include "settings_reader.h"

namespace farm::pipeline {

using farm::image::Image;
using farm::image::Rect;

namespace {

// The regions of `target` in `image`, best first: faces from the face pipeline, hands
// and people from the context's region finder.
StatusOr<std::vector<Region>> FindTargets(const StageContext& context, const std::string& target,
                                          const Image& image, double confidence) {
  if (target == "face") {
    if (context.faces == nullptr) return FailedPrecondition("detailer: no face models loaded");
    farm::faceid::AnalyzeOptions analyze;
    analyze.min_confidence = confidence;
    StatusOr<std::vector<farm::faceid::Face>> faces = context.faces->Analyze(ToRgbImage(image), analyze);
    if (!faces.ok()) return faces.status().WithContext("detailer: face detection");
    std::vector<Region> regions;
    for (const farm::faceid::Face& face : *faces) {
      regions.push_back({face.box.x, face.box.y, face.box.width, face.box.height, face.score});
    }
    return regions;
  }
  if (context.regions == nullptr) {
    return FailedPrecondition("detailer: target '" + target +
                              "' needs the body and hand models (human-models), and none are loaded");
  }
  StatusOr<std::vector<Region>> found = context.regions->Find(ToRgbImage(image), target, confidence);
  if (!found.ok()) return found.status().WithContext("detailer: " + target + " detection");
  return found;
}

// "face", "hand", "person": the word for one region in the applied settings.
std::string RegionWord(const std::string& target) { return target == "hands" ? "hand" : target; }

}  // namespace

StatusOr<StageRun> RunDetailer(const StageContext& context, const farm::Settings& settings,
                               const Image& input) {
  FARM_ASSIGN_OR_RETURN(farm::sd::RenderRequest base, BaseRequest(context));
  SettingsReader s("detailer", settings);
  FARM_ASSIGN_OR_RETURN(std::string target, s.String("target", "face", {"face", "hands", "person"}));
  FARM_ASSIGN_OR_RETURN(double confidence, s.Number("confidence", 0.3, 0, 1));
  FARM_ASSIGN_OR_RETURN(int dilate, s.Int("dilate", 4, 0, 512));
  FARM_ASSIGN_OR_RETURN(int padding, s.Int("padding", 32, 0, 512));
  FARM_ASSIGN_OR_RETURN(int resolution, s.Int("resolution", 512, 64, 2048));
  FARM_ASSIGN_OR_RETURN(double denoise, s.Number("denoise", 0.4, 0, 1));
  FARM_ASSIGN_OR_RETURN(int feather, s.Int("feather", 4, 0, 256));
  FARM_ASSIGN_OR_RETURN(int steps, s.Int("steps", static_cast<int>(base.steps), 1, 150));
  FARM_ASSIGN_OR_RETURN(double cfg, s.Number("cfg", base.cfg_scale, 1, 30));
  FARM_ASSIGN_OR_RETURN(base.prompt, s.String("prompt", base.prompt));
  FARM_ASSIGN_OR_RETURN(base.negative_prompt, s.String("negative_prompt", base.negative_prompt));
  FARM_RETURN_IF_ERROR(s.Finish());
  FARM_RETURN_IF_ERROR(farm::image::ValidateImage(input, "detailer input"));
  base.steps = steps;
  base.cfg_scale = cfg;

  StageRun run;
  run.applied = s.applied();
  run.image = ToRgb(input);
  FARM_ASSIGN_OR_RETURN(std::vector<Region> regions, FindTargets(context, target, run.image, confidence));
  const std::string word = RegionWord(target);

  int detailed = 0;
  for (size_t i = 0; i < regions.size(); ++i) {
    const std::string where = "detailer: " + word + " " + std::to_string(i);
    FARM_RETURN_IF_ERROR(CheckCancelled(context, where));
    const Region& b = regions[i];
    const int x0 = static_cast<int>(std::floor(b.x)), y0 = static_cast<int>(std::floor(b.y));
    const int x1 = static_cast<int>(std::ceil(b.x + b.width)), y1 = static_cast<int>(std::ceil(b.y + b.height));
    Rect box = farm::image::ClipRect(farm::image::GrowRect({x0, y0, x1 - x0, y1 - y0}, dilate),
                                     run.image.width, run.image.height);
    if (box.empty()) continue;
    StatusOr<farm::image::CropResult> crop = farm::image::CropWithPadding(run.image, box, padding);
    if (!crop.ok()) return crop.status().WithContext(where);
    const Rect local{box.x - crop->rect.x, box.y - crop->rect.y, box.width, box.height};
    FARM_ASSIGN_OR_RETURN(Image mask,
                          farm::image::FeatheredMask(crop->rect.width, crop->rect.height, local, feather));
    // The crop scaled so its longer side is `resolution` (multiples of 8).
    const double scale = static_cast<double>(resolution) / std::max(crop->rect.width, crop->rect.height);
    const int iw = std::max(8, static_cast<int>(std::lround(crop->rect.width * scale / 8)) * 8);
    const int ih = std::max(8, static_cast<int>(std::lround(crop->rect.height * scale / 8)) * 8);
    FARM_ASSIGN_OR_RETURN(Image work, farm::image::ResizeLanczos(crop->image, iw, ih));
    FARM_ASSIGN_OR_RETURN(Image work_mask, farm::image::ResizeLanczos(mask, iw, ih));
    farm::sd::RenderRequest request = base;
    request.seed = base.seed + i;
    Img2ImgCall call;
    call.denoise = denoise;
    call.mask = work_mask;
    StatusOr<Image> painted = Img2Img(context, request, work, call);
    if (!painted.ok()) return painted.status().WithContext(where);
    FARM_ASSIGN_OR_RETURN(Image patch,
                          farm::image::ResizeLanczos(*painted, crop->rect.width, crop->rect.height));
    FARM_RETURN_IF_ERROR(farm::image::PasteBack(run.image, patch, crop->rect, mask));
    run.applied[word + "_" + std::to_string(i)] =
        farm::image::DescribeRect(box) + " score " + std::to_string(b.score) + " seed " +
        std::to_string(request.seed) + " inpaint " + std::to_string(iw) + "x" + std::to_string(ih);
    ++detailed;
  }
  // "faces", "hands", "persons": how many regions were repainted.
  run.applied[word + "s"] = static_cast<std::int64_t>(detailed);
  if (target == "face") run.faces_detailed = detailed;
  return run;
}

}  // namespace farm::pipeline
