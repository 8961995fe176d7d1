// Upscale: plain Lanczos, or tiled img2img as Ultimate SD Upscale does it (Lanczos to the
// target size, then each tile redrawn on the current canvas and blended back through its
// feathered mask; optional ControlNet tile and a band-pass seam fix).
#include <algorithm>
#include <cmath>

#include "engine_calls.h"
#include "farm/image/crop_paste.h"
#include "farm/image/resize.h"
#include "farm/image/tiles.h"
#include "settings_reader.h"

namespace farm::pipeline {

using farm::image::Image;
using farm::image::Rect;

namespace {

// The ControlNet "tile_resample" preprocessor: the tile downscaled by `rate` (1 = as is).
StatusOr<Image> TileHint(const Image& tile, double rate) {
  if (rate <= 1.0) return tile;
  const int w = std::max(1, static_cast<int>(std::lround(tile.width / rate)));
  const int h = std::max(1, static_cast<int>(std::lround(tile.height / rate)));
  return farm::image::ResizeLanczos(tile, w, h);
}

// The seam bands of a grid: one per inner border between cores, `width` px across,
// running the full length of the image.
std::vector<Rect> SeamBands(const farm::image::TileGrid& grid, int width) {
  std::vector<int> xs, ys;
  for (const farm::image::Tile& t : grid.tiles) {
    if (t.core.x > 0) xs.push_back(t.core.x);
    if (t.core.y > 0) ys.push_back(t.core.y);
  }
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  std::vector<Rect> bands;
  for (int x : xs) {
    bands.push_back(farm::image::ClipRect({x - width / 2, 0, width, grid.image_height},
                                          grid.image_width, grid.image_height));
  }
  for (int y : ys) {
    bands.push_back(farm::image::ClipRect({0, y - width / 2, grid.image_width, width},
                                          grid.image_width, grid.image_height));
  }
  return bands;
}

}  // namespace

StatusOr<StageRun> RunUpscale(const StageContext& context, const farm::Settings& settings,
                              const Image& input, const TileRedraw& redraw_override) {
  FARM_ASSIGN_OR_RETURN(farm::sd::RenderRequest base, BaseRequest(context));
  SettingsReader s("upscale", settings);
  FARM_ASSIGN_OR_RETURN(double scale, s.Number("scale", 2, 1, 4));
  FARM_ASSIGN_OR_RETURN(std::string mode, s.String("mode", "resize", {"resize", "lanczos", "tiled"}));
  StageRun run;
  FARM_RETURN_IF_ERROR(farm::image::ValidateImage(input, "upscale input"));
  const int out_w = std::max(1, static_cast<int>(std::lround(input.width * scale)));
  const int out_h = std::max(1, static_cast<int>(std::lround(input.height * scale)));
  if (mode != "tiled") {
    FARM_RETURN_IF_ERROR(s.Finish());
    run.applied = s.applied();
    FARM_ASSIGN_OR_RETURN(run.image, farm::image::ResizeLanczos(ToRgb(input), out_w, out_h));
    return run;
  }
  FARM_ASSIGN_OR_RETURN(int tile_size, s.Int("tile_size", 512, 64, 2048));
  FARM_ASSIGN_OR_RETURN(int overlap, s.Int("overlap", 64, 0, 512));
  FARM_ASSIGN_OR_RETURN(int padding, s.Int("padding", 32, 0, 512));
  FARM_ASSIGN_OR_RETURN(int mask_blur, s.Int("mask_blur", 8, 0, 256));
  FARM_ASSIGN_OR_RETURN(std::string order, s.String("order", "linear", {"linear", "chess"}));
  FARM_ASSIGN_OR_RETURN(double denoise, s.Number("denoise", 0.3, 0, 1));
  FARM_ASSIGN_OR_RETURN(int steps, s.Int("steps", static_cast<int>(base.steps), 1, 150));
  FARM_ASSIGN_OR_RETURN(double cfg, s.Number("cfg", base.cfg_scale, 1, 30));
  FARM_ASSIGN_OR_RETURN(base.prompt, s.String("prompt", base.prompt));
  FARM_ASSIGN_OR_RETURN(base.negative_prompt, s.String("negative_prompt", base.negative_prompt));
  FARM_ASSIGN_OR_RETURN(double cn_weight, s.Number("controlnet_weight", 1.0, 0, 2));
  FARM_ASSIGN_OR_RETURN(double cn_rate, s.Number("controlnet_downsample", 1.0, 1, 8));
  FARM_ASSIGN_OR_RETURN(std::string seam_fix, s.String("seam_fix", "none", {"none", "band"}));
  FARM_ASSIGN_OR_RETURN(int seam_width, s.Int("seam_fix_width", 64, 8, 512));
  FARM_ASSIGN_OR_RETURN(double seam_denoise, s.Number("seam_fix_denoise", 0.35, 0, 1));
  FARM_ASSIGN_OR_RETURN(int seam_blur, s.Int("seam_fix_mask_blur", 8, 0, 256));
  FARM_ASSIGN_OR_RETURN(int seam_padding, s.Int("seam_fix_padding", 16, 0, 512));
  FARM_RETURN_IF_ERROR(s.Finish());
  base.steps = steps;
  base.cfg_scale = cfg;
  run.applied = s.applied();

  // The "tile" ControlNet unit of the render, if any.
  std::string cn_path;
  for (const farm::ControlNetUnit& unit : context.params->controlnets) {
    if (unit.input != "tile") continue;
    auto it = context.models->controlnets.find(unit.model_sha256);
    if (it == context.models->controlnets.end()) {
      return NotFound("upscale: no ControlNet file for the tile unit's sha256 " + unit.model_sha256);
    }
    cn_path = it->second;
  }
  run.applied["controlnet"] = cn_path.empty() ? std::string("none") : std::string("tile");

  TileRedraw redraw = redraw_override;
  if (!redraw) {
    redraw = [&](const Image& tile, double strength, const Image& hint) -> StatusOr<Image> {
      Img2ImgCall call;
      call.denoise = strength;
      if (!cn_path.empty() && hint.width > 0) {
        call.hint = hint;
        call.controlnet_path = cn_path;
        call.controlnet_weight = cn_weight;
      }
      return Img2Img(context, base, tile, call);
    };
  }

  FARM_ASSIGN_OR_RETURN(Image canvas, farm::image::ResizeLanczos(ToRgb(input), out_w, out_h));
  farm::image::TileGridOptions grid_options;
  grid_options.tile_width = std::min(tile_size, out_w);
  grid_options.tile_height = std::min(tile_size, out_h);
  // At most half a tile: a larger overlap would only multiply the tiles.
  grid_options.overlap = std::min({overlap, grid_options.tile_width / 2, grid_options.tile_height / 2});
  run.applied["overlap_used"] = static_cast<std::int64_t>(grid_options.overlap);
  grid_options.padding = padding;
  grid_options.order = order == "chess" ? farm::image::TileOrder::kChess : farm::image::TileOrder::kLinear;
  StatusOr<farm::image::TileGrid> grid = farm::image::MakeTileGrid(out_w, out_h, grid_options);
  if (!grid.ok()) return grid.status().WithContext("upscale");
  const int blur = std::min(mask_blur, farm::image::MaxTileMaskBlur(*grid));
  run.applied["mask_blur_used"] = static_cast<std::int64_t>(blur);
  run.applied["tiles"] = static_cast<std::int64_t>(grid->tiles.size());

  const int total = static_cast<int>(grid->tiles.size());
  for (int i = 0; i < total; ++i) {
    const farm::image::Tile& tile = grid->tiles[i];
    const std::string where = "upscale: tile " + std::to_string(i) + " (row " +
                              std::to_string(tile.row) + ", col " + std::to_string(tile.col) + ")";
    FARM_RETURN_IF_ERROR(CheckCancelled(context, where));
    FARM_ASSIGN_OR_RETURN(Image crop, farm::image::Crop(canvas, tile.rect));
    Image hint;
    if (!cn_path.empty()) {
      FARM_ASSIGN_OR_RETURN(hint, TileHint(crop, cn_rate));
    }
    StatusOr<Image> drawn = redraw(crop, denoise, hint);
    if (!drawn.ok()) return drawn.status().WithContext(where);
    if (drawn->width != crop.width || drawn->height != crop.height) {
      return Internal(where + ": redraw returned " + farm::image::DescribeSize(*drawn));
    }
    FARM_RETURN_IF_ERROR(farm::image::PasteTile(canvas, *grid, tile, ToRgb(*drawn), blur));
    if (context.progress) context.progress(i + 1, total);
  }

  if (seam_fix == "band" && grid->tiles.size() > 1) {
    std::vector<Rect> bands = SeamBands(*grid, seam_width);
    for (size_t i = 0; i < bands.size(); ++i) {
      const std::string where = "upscale: seam band " + std::to_string(i);
      FARM_RETURN_IF_ERROR(CheckCancelled(context, where));
      FARM_ASSIGN_OR_RETURN(farm::image::CropResult crop,
                            farm::image::CropWithPadding(canvas, bands[i], seam_padding));
      const Rect local{bands[i].x - crop.rect.x, bands[i].y - crop.rect.y, bands[i].width, bands[i].height};
      FARM_ASSIGN_OR_RETURN(Image mask, farm::image::FeatheredMask(crop.rect.width, crop.rect.height,
                                                                   local, seam_blur));
      Image hint;
      if (!cn_path.empty()) {
        FARM_ASSIGN_OR_RETURN(hint, TileHint(crop.image, cn_rate));
      }
      StatusOr<Image> drawn = redraw(crop.image, seam_denoise, hint);
      if (!drawn.ok()) return drawn.status().WithContext(where);
      FARM_RETURN_IF_ERROR(farm::image::PasteBack(canvas, ToRgb(*drawn), crop.rect, mask));
    }
    run.applied["seam_bands"] = static_cast<std::int64_t>(bands.size());
  }
  run.image = std::move(canvas);
  return run;
}

}  // namespace farm::pipeline
