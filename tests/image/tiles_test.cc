// Tiled upscale helpers: grid layout, order, masks and seamless blending.
#include "farm/image/tiles.h"

#include <gtest/gtest.h>

#include <cmath>

#include "farm/image/resize.h"

namespace farm::image {
namespace {

// A smooth diagonal gradient.
Image Gradient(int w, int h) {
  Image image = MakeImage(w, h, 3).value();
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = image.at(x, y);
      p[0] = static_cast<uint8_t>(x * 200 / w + 20);
      p[1] = static_cast<uint8_t>(y * 200 / h + 20);
      p[2] = static_cast<uint8_t>((x + y) * 100 / (w + h) + 60);
    }
  }
  return image;
}

std::vector<Image> CutTiles(const Image& image, const TileGrid& grid) {
  std::vector<Image> tiles;
  for (const Tile& tile : grid.tiles) tiles.push_back(Crop(image, tile.rect).value());
  return tiles;
}

TEST(TilesTest, GridCoversTheImageWithOverlap) {
  TileGridOptions options;
  options.tile_width = 512;
  options.tile_height = 512;
  options.overlap = 64;
  StatusOr<TileGrid> grid = MakeTileGrid(1024, 1536, options);  // 512x768 upscaled 2x
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->cols, 3);  // ceil((1024 - 64) / 448)
  EXPECT_EQ(grid->rows, 4);  // ceil((1536 - 64) / 448)
  ASSERT_EQ(grid->tiles.size(), 12u);
  std::vector<int> owner(1024 * 1536, 0);
  for (const Tile& t : grid->tiles) {
    EXPECT_EQ(t.window.width, 512);
    EXPECT_EQ(t.window.height, 512);
    EXPECT_EQ(t.rect, t.window);  // no padding
    EXPECT_EQ(ClipRect(t.window, 1024, 1536), t.window);
    EXPECT_EQ(ClipRect(t.core, t.window.x + t.window.width, t.window.y + t.window.height).width,
              t.core.width);
    for (int y = t.core.y; y < t.core.y + t.core.height; ++y) {
      for (int x = t.core.x; x < t.core.x + t.core.width; ++x) ++owner[y * 1024 + x];
    }
  }
  for (int count : owner) ASSERT_EQ(count, 1);  // cores partition the image
  // Neighbours overlap by at least 64 px and the last tile ends at the edge.
  EXPECT_EQ(grid->tiles[0].window.x, 0);
  EXPECT_LE(grid->tiles[1].window.x, 512 - 64);
  EXPECT_EQ(grid->tiles[2].window.x + 512, 1024);
  // Rows start at 0, 341, 682, 1024: overlaps of 171 px, margins of 85 on the tightest
  // side, so (85 - 1) / 2; never below (64 / 2 - 1) / 2 for this overlap.
  EXPECT_EQ(MaxTileMaskBlur(*grid), 42);
  EXPECT_EQ(grid->tiles[3].window.y, 341);
}

TEST(TilesTest, LinearAndChessOrders) {
  TileGridOptions options{100, 100, 20, 0, TileOrder::kLinear};
  const TileGrid linear = MakeTileGrid(260, 180, options).value();  // 3 x 2
  ASSERT_EQ(linear.tiles.size(), 6u);
  for (size_t i = 0; i < linear.tiles.size(); ++i) {
    EXPECT_EQ(linear.tiles[i].row * linear.cols + linear.tiles[i].col, static_cast<int>(i));
  }
  options.order = TileOrder::kChess;
  const TileGrid chess = MakeTileGrid(260, 180, options).value();
  ASSERT_EQ(chess.tiles.size(), 6u);
  for (size_t i = 0; i < chess.tiles.size(); ++i) {
    EXPECT_EQ((chess.tiles[i].row + chess.tiles[i].col) % 2, i < 3 ? 0 : 1) << i;
  }
}

TEST(TilesTest, SmallImagesAndPadding) {
  TileGridOptions options{512, 512, 64, 32, TileOrder::kLinear};
  const TileGrid one = MakeTileGrid(300, 200, options).value();
  ASSERT_EQ(one.tiles.size(), 1u);
  EXPECT_EQ(one.tiles[0].window, (Rect{0, 0, 300, 200}));
  EXPECT_EQ(one.tiles[0].core, (Rect{0, 0, 300, 200}));
  const TileGrid padded = MakeTileGrid(1000, 512, options).value();
  ASSERT_EQ(padded.tiles.size(), 3u);
  EXPECT_EQ(padded.tiles[1].rect.x, padded.tiles[1].window.x - 32);
  EXPECT_EQ(padded.tiles[0].rect.x, 0);  // clipped
}

TEST(TilesTest, RefusesBadOptions) {
  EXPECT_FALSE(MakeTileGrid(0, 10, TileGridOptions{}).ok());
  EXPECT_FALSE(MakeTileGrid(100, 100, TileGridOptions{64, 64, 64, 0, TileOrder::kLinear}).ok());
  EXPECT_FALSE(MakeTileGrid(100, 100, TileGridOptions{64, 64, -1, 0, TileOrder::kLinear}).ok());
  EXPECT_FALSE(MakeTileGrid(100, 100, TileGridOptions{64, 64, 8, -2, TileOrder::kLinear}).ok());
  EXPECT_FALSE(MakeTileGrid(16384, 16384, TileGridOptions{8, 8, 1, 0, TileOrder::kLinear}).ok());
  const TileGrid grid = MakeTileGrid(200, 200, TileGridOptions{100, 100, 20, 0}).value();
  Image canvas = MakeImage(200, 200, 3).value();
  const Image tile = MakeImage(grid.tiles[0].rect.width, grid.tiles[0].rect.height, 3).value();
  EXPECT_FALSE(PasteTile(canvas, grid, grid.tiles[0], tile, MaxTileMaskBlur(grid) + 1).ok());
  EXPECT_FALSE(PasteTile(canvas, grid, grid.tiles[0], MakeImage(5, 5, 3).value(), 2).ok());
  Image wrong = MakeImage(100, 200, 3).value();
  EXPECT_FALSE(PasteTile(wrong, grid, grid.tiles[0], tile, 2).ok());
  EXPECT_FALSE(BlendTiles(canvas, grid, {tile}, 2).ok());  // one image for four tiles
  EXPECT_TRUE(PasteTile(canvas, grid, grid.tiles[0], tile, 2).ok());
}

TEST(TilesTest, UnchangedTilesBlendBackToTheImage) {
  const Image image = Gradient(640, 480);
  for (TileOrder order : {TileOrder::kLinear, TileOrder::kChess}) {
    const TileGrid grid = MakeTileGrid(640, 480, TileGridOptions{256, 256, 48, 16, order}).value();
    const Image black = MakeImage(640, 480, 3, 0).value();  // every pixel comes from tiles
    StatusOr<Image> out = BlendTiles(black, grid, CutTiles(image, grid), 12);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->pixels, image.pixels);
  }
}

TEST(TilesTest, NoDiscontinuityAtTileBorders) {
  // A tiled upscale: upscale a gradient 2x, then "work" on each tile the way a diffusion
  // pass might drift, a different brightness offset per tile. The blend must turn each
  // border into a gradual change; a hard paste would jump by the offsets' difference.
  const Image small = Gradient(160, 120);
  const Image base = ResizeLanczos(small, 320, 240).value();
  const TileGrid grid =
      MakeTileGrid(320, 240, TileGridOptions{128, 128, 32, 0, TileOrder::kLinear}).value();
  std::vector<Image> tiles = CutTiles(base, grid);
  for (size_t i = 0; i < tiles.size(); ++i) {
    const int offset = static_cast<int>(i % 2 == 0 ? 12 : -12);
    for (uint8_t& v : tiles[i].pixels) v = static_cast<uint8_t>(std::clamp(v + offset, 0, 255));
  }
  const int blur = MaxTileMaskBlur(grid);
  ASSERT_GE(blur, 7);
  const Image out = BlendTiles(base, grid, tiles, blur).value();

  // The largest step between neighbouring pixels anywhere, against the base's own.
  const auto max_step = [](const Image& img) {
    int step = 0;
    for (int y = 0; y < img.height; ++y) {
      for (int x = 0; x + 1 < img.width; ++x) {
        for (int c = 0; c < 3; ++c) {
          step = std::max(step, std::abs(img.at(x + 1, y)[c] - img.at(x, y)[c]));
          if (y + 1 < img.height) {
            step = std::max(step, std::abs(img.at(x, y + 1)[c] - img.at(x, y)[c]));
          }
        }
      }
    }
    return step;
  };
  const int base_step = max_step(base);
  EXPECT_LE(max_step(out), base_step + 6) << "base step " << base_step;

  // The same tiles pasted with a hard mask do jump at the borders.
  const Image hard = BlendTiles(base, grid, tiles, 0).value();
  EXPECT_GE(max_step(hard), base_step + 20);

  // Inside each core, away from borders, the tile's own pixels are kept.
  for (size_t i = 0; i < grid.tiles.size(); ++i) {
    const Tile& t = grid.tiles[i];
    const int cx = t.core.x + t.core.width / 2;
    const int cy = t.core.y + t.core.height / 2;
    EXPECT_EQ(out.at(cx, cy)[0], tiles[i].at(cx - t.rect.x, cy - t.rect.y)[0]);
  }
}

}  // namespace
}  // namespace farm::image
