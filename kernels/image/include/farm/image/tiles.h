// Tiles for a tiled upscale (the `upscale` stage with mode: tiled): the image is covered
// by tile_width x tile_height windows that overlap their neighbours by at least
// `overlap` px, spread evenly so the last one ends at the image's edge. Each tile owns a
// core (the cores partition the image; borders lie in the middle of the overlaps), is
// worked on with `padding` px of extra context, and is pasted back in processing order
// through a mask that is solid over its core and fades to nothing over the 2*blur px
// beyond it, so each border is a smooth blend from the earlier tile to the later one.
#pragma once

#include <vector>

#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::image {

enum class TileOrder {
  kLinear,  // row by row
  kChess,   // the "white" cells ((row + col) even) row by row, then the "black" ones
};

struct TileGridOptions {
  int tile_width = 512;
  int tile_height = 512;
  int overlap = 64;  // minimum overlap of neighbouring tiles; < both tile sides
  int padding = 0;   // extra context around each tile (clipped to the image)
  TileOrder order = TileOrder::kLinear;
};

struct Tile {
  int row = 0;
  int col = 0;
  Rect window;  // the tile_width x tile_height window (smaller only for a smaller image)
  Rect rect;    // window + padding, clipped: the pixels the upscaler crops and works on
  Rect core;    // the pixels this tile owns, inside `window`
};

struct TileGrid {
  int image_width = 0;
  int image_height = 0;
  int rows = 0;
  int cols = 0;
  std::vector<Tile> tiles;  // in processing order
};

inline constexpr int kMaxTiles = 65536;

StatusOr<TileGrid> MakeTileGrid(int image_width, int image_height,
                                const TileGridOptions& options);

// The largest mask blur for which every tile's mask fades to 0 inside its rect on the
// sides that face a neighbour: (margin - 1) / 2 for the smallest margin between a core
// and its rect's edge (overlap / 2 + padding, roughly). 1024 for a single tile.
int MaxTileMaskBlur(const TileGrid& grid);

// The mask (1 channel, the tile's rect size) PasteTile uses: 255 over the core grown by
// `mask_blur`, blurred with radius `mask_blur` (see FeatheredMask).
StatusOr<Image> TileMask(const TileGrid& grid, const Tile& tile, int mask_blur);

// Blends one worked tile (the size of tile.rect, the canvas's channels) into the canvas
// through TileMask. InvalidArgument when mask_blur > MaxTileMaskBlur(grid).
Status PasteTile(Image& canvas, const TileGrid& grid, const Tile& tile, const Image& tile_image,
                 int mask_blur);

// PasteTile of every tile in grid order onto a copy of `base` (the grid's size). Every
// pixel then comes from the tiles; tiles cut from an image and pasted back unchanged
// give that image back exactly.
StatusOr<Image> BlendTiles(const Image& base, const TileGrid& grid,
                           const std::vector<Image>& tile_images, int mask_blur);

}  // namespace farm::image
