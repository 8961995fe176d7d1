// Thumbnails for farmctl report: real downscaled JPEGs made by `farm-agent thumbnails`
// (OpenCV lives in the agent), cached as <cache>/<image sha256>-<size>.jpg so a second
// report of the same sweep runs no agent at all, and embedded as data: URIs.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace farmctl::report {

struct ThumbnailRequest {
  std::string sha256;  // of the image file (the cache key)
  std::string file;    // absolute or relative to the working directory
};

struct Thumbnail {
  std::string data_uri;  // "data:image/jpeg;base64,..."; empty on failure
  int width = 0;
  int height = 0;
  std::string error;     // why there is none
};

struct ThumbnailOptions {
  std::string agent_path;  // empty: only cached thumbnails, the rest fail with a reason
  std::string cache_dir;
  int size = 160;
  // Files per agent run: its start (loading libtorch) costs ~0.5 s of CPU, so few and
  // large; 1000 paths keep the command line near 100 kB.
  int batch = 1000;
  int processes = 2;       // agents run at once (one per core is right: decoding is CPU-bound)
};

// One entry per distinct sha256 of `requests`. Never fails as a whole: an image that
// cannot be shrunk gets its reason.
std::map<std::string, Thumbnail> MakeThumbnails(const std::vector<ThumbnailRequest>& requests,
                                                const ThumbnailOptions& options);

// Standard base64 with padding.
std::string Base64(const std::string& bytes);

// Width and height from a JPEG's SOF header; {0, 0} when not found.
std::pair<int, int> JpegSize(const std::string& bytes);

}  // namespace farmctl::report
