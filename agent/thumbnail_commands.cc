#include "thumbnail_commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {

namespace fs = std::filesystem;

struct ThumbnailArgs {
  int size = 160;
  int quality = 82;
  std::string out_dir;
  std::vector<std::string> files;
};

// Owned by the registered subcommand; CLI11 keeps only the pointer.
std::unique_ptr<ThumbnailArgs> g_args;
CLI::App* g_command = nullptr;

// Writes to `path` through a temporary name, so a killed run never leaves a truncated
// thumbnail under the cache key.
bool WriteAtomically(const fs::path& path, const std::vector<unsigned char>& bytes) {
  const fs::path temp = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) fs::remove(temp, ec);
  return !ec;
}

nlohmann::ordered_json Thumbnail(const ThumbnailArgs& args, const std::string& file) {
  nlohmann::ordered_json line;
  line["file"] = file;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    line["error"] = "cannot read " + file;
    return line;
  }
  const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in), {}};
  const std::string sha256 =
      Sha256Hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  line["sha256"] = sha256;
  const fs::path thumb = fs::path(args.out_dir) / (sha256 + "-" + std::to_string(args.size) + ".jpg");
  line["thumb"] = thumb.string();

  std::error_code ec;
  if (fs::exists(thumb, ec)) {
    // Cached: the header is enough for the size, but decoding it is as cheap and sure.
    const cv::Mat cached = cv::imread(thumb.string(), cv::IMREAD_COLOR);
    if (!cached.empty()) {
      line["width"] = cached.cols;
      line["height"] = cached.rows;
      line["cached"] = true;
      return line;
    }
  }
  const cv::Mat image = cv::imdecode(bytes, cv::IMREAD_COLOR);
  if (image.empty()) {
    line["error"] = file + " is not an image OpenCV can decode (" + std::to_string(bytes.size()) + " bytes)";
    return line;
  }
  const double scale = std::min(1.0, static_cast<double>(args.size) / std::max(image.cols, image.rows));
  cv::Mat small = image;
  if (scale < 1.0) {
    const cv::Size target(std::max(1, static_cast<int>(image.cols * scale + 0.5)),
                          std::max(1, static_cast<int>(image.rows * scale + 0.5)));
    cv::resize(image, small, target, 0, 0, cv::INTER_AREA);
  }
  std::vector<unsigned char> jpeg;
  if (!cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, args.quality})) {
    line["error"] = "cannot encode a JPEG thumbnail of " + file;
    return line;
  }
  if (!WriteAtomically(thumb, jpeg)) {
    line["error"] = "cannot write " + thumb.string();
    return line;
  }
  line["width"] = small.cols;
  line["height"] = small.rows;
  line["cached"] = false;
  return line;
}

}  // namespace

void AddThumbnailCommand(CLI::App& app) {
  g_args = std::make_unique<ThumbnailArgs>();
  g_command = app.add_subcommand("thumbnails",
                                 "Downscaled JPEG copies of images, named by their sha256 (farmctl report)");
  g_command->add_option("--size", g_args->size, "longest side of a thumbnail in pixels")
      ->check(CLI::Range(8, 4096));
  g_command->add_option("--quality", g_args->quality, "JPEG quality")->check(CLI::Range(10, 100));
  g_command->add_option("--out", g_args->out_dir, "folder for the thumbnails (created; also the cache)")
      ->required();
  g_command->add_option("files", g_args->files, "images to shrink")->required();
}

int RunThumbnailCommand(const CLI::App& app) {
  (void)app;
  if (g_command == nullptr || !g_command->parsed()) return -1;
  std::error_code ec;
  fs::create_directories(g_args->out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "farm-agent thumbnails: cannot create %s: %s\n", g_args->out_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  cv::setNumThreads(1);  // many small images: threads cost more than they give
  int failed = 0;
  for (const std::string& file : g_args->files) {
    const nlohmann::ordered_json line = Thumbnail(*g_args, file);
    if (line.contains("error")) ++failed;
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace farm::agent
