// The stages of a render recipe, one function each (one .cc each in src/). RecipeRunner
// calls them in order; tests call them directly.
//
// Settings (params.stages[i].settings) and their defaults; a key not listed is
// InvalidArgument "<stage>: unknown setting '<key>'", a value of the wrong type or range
// is InvalidArgument naming stage and key. Every stage returns the settings as applied
// (defaults filled in) for the render record.
//
//   detailer  target face|hands|person (face: the face-ID detector; hands: the hand
//             detector's boxes; person: the body model's person boxes, both from the
//             context's RegionFinder), confidence 0.3 (detector minimum),
//             dilate 4 (px the box grows before masking), padding 32 (context px around
//             the dilated box), resolution 512 (longer side of the inpaint, multiple of 8),
//             denoise 0.4, feather 4 (mask blur px), steps/cfg (the render's), prompt /
//             negative_prompt (the render's). Every detected region i is inpainted with
//             seed + i and pasted back through the feathered mask; pixels outside the
//             dilated box grown by the feather stay exactly as they were. A recipe may
//             list several detailer stages (say face, then hands).
//   img2img   denoise 0.35 (0 returns the input unchanged without an engine pass),
//             steps/cfg/prompt/negative_prompt (the render's). Seed: the render's.
//   upscale   scale 2 (1..4], mode resize|lanczos (plain Lanczos) or tiled (Ultimate SD
//             Upscale: Lanczos to the target, then every tile redrawn by img2img):
//             tile_size 512, overlap 64 (at most half a tile), padding 32, mask_blur 8 (clamped to what the
//             grid allows, recorded), order linear|chess, denoise 0.3, steps/cfg/prompt/
//             negative_prompt (the render's), controlnet_weight 1 and controlnet_downsample
//             1 (the "tile" ControlNet unit of params.controlnets, when there is one: its
//             hint is the tile downscaled by the rate and resized back), seam_fix none|band
//             with seam_fix_width 64, seam_fix_denoise 0.35, seam_fix_mask_blur 8,
//             seam_fix_padding 16 (band pass: each inner seam redrawn as a band). Tile seed:
//             the render's (as USDU).
//   tone      white_balance_shift, saturation, contrast, strength: unset ones come from
//             the render's tone preset in tones.yaml (none: the identity grade).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "farm/image/image.h"
#include "farm/image/tone_grade.h"
#include "farm/pipeline/recipe.h"
#include "farm/pipeline/region_finder.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm::sd {
struct RenderRequest;
struct ModelSeconds;
struct TextualInversion;
}

namespace farm::pipeline {

struct StageContext {
  farm::sd::Engine* engine = nullptr;
  const farm::faceid::FacePipeline* faces = nullptr;  // detailer target face
  const RegionFinder* regions = nullptr;               // detailer targets hands and person
  const farm::RenderParams* params = nullptr;
  const ModelPaths* models = nullptr;
  std::function<void(int step, int total)> progress;  // may be empty
  std::function<bool()> cancelled;                    // may be empty
  farm::sd::ModelSeconds* model_seconds = nullptr;    // every engine call adds its time; may be null
  // The render's textual-inversion embeddings, given to every engine call; may be null.
  const std::vector<farm::sd::TextualInversion>* embeddings = nullptr;
  // Names the prompts of any engine call used, in order of first use; may be null.
  std::vector<std::string>* embeddings_used = nullptr;
};

struct StageRun {
  farm::image::Image image;
  farm::Settings applied;  // every setting as used
  int faces_detailed = 0;
};

StatusOr<StageRun> RunTxt2Img(const StageContext& context);
StatusOr<StageRun> RunDetailer(const StageContext& context, const farm::Settings& settings,
                               const farm::image::Image& input);
StatusOr<StageRun> RunImg2Img(const StageContext& context, const farm::Settings& settings,
                              const farm::image::Image& input);

// Redraws one tile (img2img of `tile` with `denoise`); `hint` is the ControlNet tile hint
// or empty. Replaceable in tests; the default uses the engine.
using TileRedraw = std::function<StatusOr<farm::image::Image>(
    const farm::image::Image& tile, double denoise, const farm::image::Image& hint)>;
StatusOr<StageRun> RunUpscale(const StageContext& context, const farm::Settings& settings,
                              const farm::image::Image& input, const TileRedraw& redraw = nullptr);

StatusOr<StageRun> RunTone(const StageContext& context, const farm::Settings& settings,
                           const farm::image::Image& input);

// The tone preset `name` of a tones.yaml file (its `grade`). NotFound for an unknown name.
StatusOr<farm::image::ToneGrade> LoadToneGrade(const std::string& tones_yaml, const std::string& name);
// The prompt words of the tone preset `name`.
StatusOr<std::string> LoadTonePrompt(const std::string& tones_yaml, const std::string& name);

// The stages of pipeline preset `name` in a pipelines.yaml file (settings typed as the
// sweep does: integers, numbers, strings, booleans).
StatusOr<std::vector<farm::StageSettings>> LoadPipelinePreset(const std::string& pipelines_yaml,
                                                              const std::string& name);

}  // namespace farm::pipeline
