#include "report_thumbs.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "farm/schemas/child_process.h"

namespace farmctl::report {
namespace {

namespace fs = std::filesystem;

bool ReadBytes(const fs::path& path, std::string& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  bytes = text.str();
  return true;
}

fs::path CachePath(const ThumbnailOptions& options, const std::string& sha256) {
  return fs::path(options.cache_dir) / (sha256 + "-" + std::to_string(options.size) + ".jpg");
}

// A cached or fresh thumbnail file as a data: URI; false when unreadable or not a JPEG.
bool Embed(const fs::path& path, Thumbnail& thumb) {
  std::string bytes;
  if (!ReadBytes(path, bytes) || bytes.size() < 4) return false;
  const auto [width, height] = JpegSize(bytes);
  if (width <= 0 || height <= 0) return false;
  thumb.width = width;
  thumb.height = height;
  thumb.data_uri = "data:image/jpeg;base64," + Base64(bytes);
  thumb.error.clear();
  return true;
}

// Runs the agent on one batch of files; fills `out` for each line it prints.
void RunAgentBatch(const ThumbnailOptions& options, const std::vector<const ThumbnailRequest*>& batch,
                   std::map<std::string, Thumbnail>& out) {
  std::string log_path = (fs::temp_directory_path() / "farmctl-thumbs-XXXXXX").string();
  const int fd = ::mkstemp(log_path.data());
  if (fd >= 0) ::close(fd);
  farm::ChildOptions child_options;
  child_options.argv = {options.agent_path, "thumbnails", "--size", std::to_string(options.size),
                        "--out", options.cache_dir};
  std::map<std::string, std::string> sha_by_file;
  for (const ThumbnailRequest* request : batch) {
    child_options.argv.push_back(request->file);
    sha_by_file[request->file] = request->sha256;
  }
  child_options.pipe_stdout = true;
  child_options.log_path = fd >= 0 ? log_path : "/dev/null";
  auto child = farm::ChildProcess::Start(child_options);
  if (!child.ok()) {
    for (const ThumbnailRequest* request : batch) {
      out[request->sha256].error = "farm-agent thumbnails could not start: " + child.status().message();
    }
    if (fd >= 0) fs::remove(log_path);
    return;
  }
  for (;;) {
    auto line = child->ReadLine(std::chrono::seconds(60));
    if (!line.ok()) break;  // closed (exited) or stuck for a minute
    nlohmann::json answer = nlohmann::json::parse(*line, nullptr, false);
    if (!answer.is_object() || !answer.contains("file")) continue;
    const auto it = sha_by_file.find(answer["file"].get<std::string>());
    if (it == sha_by_file.end()) continue;
    Thumbnail& thumb = out[it->second];
    if (answer.contains("error")) {
      thumb.error = answer["error"].get<std::string>();
    } else if (!Embed(answer.value("thumb", std::string()), thumb)) {
      thumb.error = "farm-agent wrote no readable JPEG for " + it->first;
    }
  }
  child->Stop(std::chrono::milliseconds(2000));
  const std::string tail = fd >= 0 ? farm::TailOfFile(log_path, 3) : "";
  for (const ThumbnailRequest* request : batch) {
    Thumbnail& thumb = out[request->sha256];
    if (thumb.data_uri.empty() && thumb.error.empty()) {
      thumb.error = "farm-agent thumbnails gave no answer for " + request->file +
                    (tail.empty() ? "" : " (" + tail + ")");
    }
  }
  if (fd >= 0) fs::remove(log_path);
}

}  // namespace

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::pair<int, int> JpegSize(const std::string& bytes) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  if (bytes.size() < 4 || byte(0) != 0xFF || byte(1) != 0xD8) return {0, 0};
  std::size_t pos = 2;
  while (pos + 4 <= bytes.size()) {
    if (byte(pos) != 0xFF) return {0, 0};
    const unsigned marker = byte(pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    const std::size_t length = (byte(pos + 2) << 8) | byte(pos + 3);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (pos + 9 > bytes.size()) return {0, 0};
      const int height = (byte(pos + 5) << 8) | byte(pos + 6);
      const int width = (byte(pos + 7) << 8) | byte(pos + 8);
      return {width, height};
    }
    pos += 2 + length;
  }
  return {0, 0};
}

std::map<std::string, Thumbnail> MakeThumbnails(const std::vector<ThumbnailRequest>& requests,
                                                const ThumbnailOptions& options) {
  std::map<std::string, Thumbnail> out;
  std::vector<const ThumbnailRequest*> missing;
  for (const ThumbnailRequest& request : requests) {
    if (out.count(request.sha256)) continue;
    Thumbnail& thumb = out[request.sha256];
    if (!options.cache_dir.empty() && Embed(CachePath(options, request.sha256), thumb)) continue;
    std::error_code ec;
    if (!fs::is_regular_file(request.file, ec)) {
      thumb.error = "image file missing: " + request.file;
    } else if (options.agent_path.empty() || options.cache_dir.empty()) {
      thumb.error = "no farm-agent to make thumbnails with (pass --agent PATH)";
    } else {
      missing.push_back(&request);
    }
  }
  if (missing.empty()) return out;
  std::error_code ec;
  fs::create_directories(options.cache_dir, ec);
  // Decoding a full-size PNG costs ~20 ms: one agent per core, each on its own slice.
  const std::size_t processes = std::min<std::size_t>(
      std::max(1, options.processes), (missing.size() + 31) / 32);
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch));
  std::vector<std::map<std::string, Thumbnail>> partial(processes);
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < processes; ++w) {
    const std::size_t first = missing.size() * w / processes, last = missing.size() * (w + 1) / processes;
    workers.emplace_back([&, w, first, last] {
      for (std::size_t begin = first; begin < last; begin += batch) {
        const std::size_t end = std::min(last, begin + batch);
        RunAgentBatch(options, {missing.begin() + begin, missing.begin() + end}, partial[w]);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (auto& part : partial) {
    for (auto& [sha, thumb] : part) out[sha] = std::move(thumb);
  }
  return out;
}

}  // namespace farmctl::report
