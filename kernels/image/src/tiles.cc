#include "farm/image/tiles.h"

#include <algorithm>

#include "farm/image/crop_paste.h"

namespace farm::image {
namespace {

struct Axis {
  int length = 0;               // window length along the axis
  std::vector<int> starts;      // window starts
  std::vector<int> core_start;  // core [core_start, core_end)
  std::vector<int> core_end;
};

Axis SplitAxis(int size, int tile, int overlap) {
  Axis axis;
  axis.length = std::min(tile, size);
  if (size <= tile) {
    axis.starts = {0};
  } else {
    const int64_t stride = tile - overlap;
    const int64_t n = (size - overlap + stride - 1) / stride;  // ceil; n >= 2 here
    for (int64_t i = 0; i < n; ++i) {
      axis.starts.push_back(static_cast<int>(i * (size - tile) / (n - 1)));
    }
  }
  const size_t n = axis.starts.size();
  axis.core_start.assign(n, 0);
  axis.core_end.assign(n, size);
  for (size_t i = 0; i + 1 < n; ++i) {
    // The middle of the overlap [starts[i+1], starts[i] + length).
    const int border = (axis.starts[i + 1] + axis.starts[i] + axis.length) / 2;
    axis.core_end[i] = border;
    axis.core_start[i + 1] = border;
  }
  return axis;
}

Status CheckTileImage(const TileGrid& grid, const Tile& tile, const Image& canvas,
                      const Image& tile_image, int mask_blur) {
  if (canvas.width != grid.image_width || canvas.height != grid.image_height) {
    return InvalidArgument("tile canvas is " + DescribeSize(canvas) + "; the grid is for " +
                           std::to_string(grid.image_width) + "x" +
                           std::to_string(grid.image_height));
  }
  if (mask_blur < 0 || mask_blur > MaxTileMaskBlur(grid)) {
    return InvalidArgument("tile mask blur " + std::to_string(mask_blur) + " is outside 0.." +
                           std::to_string(MaxTileMaskBlur(grid)) +
                           " (the fade must end inside each tile; raise overlap or padding)");
  }
  if (tile_image.width != tile.rect.width || tile_image.height != tile.rect.height) {
    return InvalidArgument("tile (row " + std::to_string(tile.row) + ", col " +
                           std::to_string(tile.col) + ") image is " + DescribeSize(tile_image) +
                           "; expected its rect's size " + std::to_string(tile.rect.width) + "x" +
                           std::to_string(tile.rect.height));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<TileGrid> MakeTileGrid(int image_width, int image_height,
                                const TileGridOptions& options) {
  for (int side : {image_width, image_height, options.tile_width, options.tile_height}) {
    if (side < 1 || side > kMaxImageSide) {
      return InvalidArgument("tile grid: image " + std::to_string(image_width) + "x" +
                             std::to_string(image_height) + ", tiles " +
                             std::to_string(options.tile_width) + "x" +
                             std::to_string(options.tile_height) + ": sides must be in 1.." +
                             std::to_string(kMaxImageSide));
    }
  }
  if (options.overlap < 0 || options.overlap >= std::min(options.tile_width, options.tile_height)) {
    return InvalidArgument("tile grid: overlap " + std::to_string(options.overlap) +
                           " must be in 0.." +
                           std::to_string(std::min(options.tile_width, options.tile_height) - 1) +
                           " (less than the tile's sides)");
  }
  if (options.padding < 0 || options.padding > kMaxImageSide) {
    return InvalidArgument("tile grid: padding " + std::to_string(options.padding) +
                           " must be in 0.." + std::to_string(kMaxImageSide));
  }
  const auto count = [](int64_t size, int64_t tile, int64_t overlap) -> int64_t {
    return size <= tile ? 1 : (size - overlap + (tile - overlap) - 1) / (tile - overlap);
  };
  const int64_t tiles = count(image_width, options.tile_width, options.overlap) *
                        count(image_height, options.tile_height, options.overlap);
  if (tiles > kMaxTiles) {
    return InvalidArgument("tile grid: " + std::to_string(tiles) + " tiles; at most " +
                           std::to_string(kMaxTiles) + " (use larger tiles)");
  }
  const Axis xs = SplitAxis(image_width, options.tile_width, options.overlap);
  const Axis ys = SplitAxis(image_height, options.tile_height, options.overlap);
  TileGrid grid;
  grid.image_width = image_width;
  grid.image_height = image_height;
  grid.rows = static_cast<int>(ys.starts.size());
  grid.cols = static_cast<int>(xs.starts.size());
  std::vector<Tile> row_major;
  for (int r = 0; r < grid.rows; ++r) {
    for (int c = 0; c < grid.cols; ++c) {
      Tile tile;
      tile.row = r;
      tile.col = c;
      tile.window = Rect{xs.starts[c], ys.starts[r], xs.length, ys.length};
      tile.rect = ClipRect(GrowRect(tile.window, options.padding), image_width, image_height);
      tile.core = Rect{xs.core_start[c], ys.core_start[r], xs.core_end[c] - xs.core_start[c],
                       ys.core_end[r] - ys.core_start[r]};
      row_major.push_back(tile);
    }
  }
  if (options.order == TileOrder::kLinear) {
    grid.tiles = std::move(row_major);
  } else {
    for (int pass = 0; pass < 2; ++pass) {
      for (const Tile& tile : row_major) {
        if ((tile.row + tile.col) % 2 == pass) grid.tiles.push_back(tile);
      }
    }
  }
  return grid;
}

int MaxTileMaskBlur(const TileGrid& grid) {
  int margin = 2 * 1024 + 1;
  for (const Tile& t : grid.tiles) {
    // Only sides that face a neighbour (a core side not on the image's edge).
    if (t.core.x > 0) margin = std::min(margin, t.core.x - t.rect.x);
    if (t.core.y > 0) margin = std::min(margin, t.core.y - t.rect.y);
    if (t.core.x + t.core.width < grid.image_width) {
      margin = std::min(margin, t.rect.x + t.rect.width - (t.core.x + t.core.width));
    }
    if (t.core.y + t.core.height < grid.image_height) {
      margin = std::min(margin, t.rect.y + t.rect.height - (t.core.y + t.core.height));
    }
  }
  return std::max(0, (margin - 1) / 2);
}

StatusOr<Image> TileMask(const TileGrid& grid, const Tile& tile, int mask_blur) {
  if (mask_blur < 0 || mask_blur > MaxTileMaskBlur(grid)) {
    return InvalidArgument("tile mask blur " + std::to_string(mask_blur) + " is outside 0.." +
                           std::to_string(MaxTileMaskBlur(grid)));
  }
  const Rect core{tile.core.x - tile.rect.x, tile.core.y - tile.rect.y, tile.core.width,
                  tile.core.height};
  return FeatheredMask(tile.rect.width, tile.rect.height, core, mask_blur, mask_blur);
}

Status PasteTile(Image& canvas, const TileGrid& grid, const Tile& tile, const Image& tile_image,
                 int mask_blur) {
  FARM_RETURN_IF_ERROR(ValidateImage(canvas, "tile canvas"));
  FARM_RETURN_IF_ERROR(CheckTileImage(grid, tile, canvas, tile_image, mask_blur));
  FARM_ASSIGN_OR_RETURN(Image mask, TileMask(grid, tile, mask_blur));
  return PasteBack(canvas, tile_image, tile.rect, mask);
}

StatusOr<Image> BlendTiles(const Image& base, const TileGrid& grid,
                           const std::vector<Image>& tile_images, int mask_blur) {
  if (tile_images.size() != grid.tiles.size()) {
    return InvalidArgument("blend tiles: " + std::to_string(tile_images.size()) +
                           " tile images for a grid of " + std::to_string(grid.tiles.size()));
  }
  Image canvas = base;
  for (size_t i = 0; i < grid.tiles.size(); ++i) {
    Status status = PasteTile(canvas, grid, grid.tiles[i], tile_images[i], mask_blur);
    if (!status.ok()) return status.WithContext("blend tiles: tile " + std::to_string(i));
  }
  return canvas;
}

}  // namespace farm::image
