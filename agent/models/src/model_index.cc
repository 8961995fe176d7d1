#include "farm/agent/model_index.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct CachedHash {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string sha256;
};

std::int64_t MtimeNs(const fs::path& path, std::error_code& ec) {
  const auto t = fs::last_write_time(path, ec);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::map<std::string, CachedHash> ReadCache(const std::string& path) {
  std::map<std::string, CachedHash> cache;
  std::ifstream in(path, std::ios::binary);
  if (!in) return cache;
  try {
    json doc = json::parse(in);
    for (const auto& [rel, entry] : doc.at("files").items()) {
      CachedHash c;
      c.size = entry.at("size").get<std::uint64_t>();
      c.mtime_ns = entry.at("mtime_ns").get<std::int64_t>();
      c.sha256 = entry.at("sha256").get<std::string>();
      if (c.sha256.size() == 64) cache[rel] = c;
    }
  } catch (const std::exception&) {
    cache.clear();  // a damaged cache is rebuilt
  }
  return cache;
}

std::string WriteCache(const std::string& path, const std::map<std::string, CachedHash>& files) {
  json doc = {{"version", 1}, {"files", json::object()}};
  for (const auto& [rel, c] : files) {
    doc["files"][rel] = {{"size", c.size}, {"mtime_ns", c.mtime_ns}, {"sha256", c.sha256}};
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return "cannot write model index cache " + tmp;
    out << doc.dump(1) << "\n";
    if (!out) return "cannot write model index cache " + tmp;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return "cannot write model index cache " + path + ": " + ec.message();
  return "";
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

StatusOr<ModelIndex> ModelIndex::Build(const ModelIndexOptions& options) {
  std::error_code ec;
  if (options.models_dir.empty() || !fs::is_directory(options.models_dir, ec)) {
    return NotFound("models directory '" + options.models_dir +
                    "' does not exist (set --models-dir or $STUDIOFARM_MODELS)");
  }
  ModelIndex index;
  index.models_dir_ = fs::absolute(options.models_dir, ec).lexically_normal().string();
  const std::string cache_path = options.cache_path.empty()
                                     ? (fs::path(index.models_dir_) / ".studiofarm-model-index.json").string()
                                     : options.cache_path;
  const std::map<std::string, CachedHash> cached = ReadCache(cache_path);
  std::map<std::string, CachedHash> current;

  fs::recursive_directory_iterator it(index.models_dir_, fs::directory_options::follow_directory_symlink |
                                                             fs::directory_options::skip_permission_denied,
                                      ec);
  if (ec) return Unavailable("cannot list models directory " + index.models_dir_ + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || path.extension() != ".safetensors") continue;
    const std::string rel = fs::relative(path, index.models_dir_, ec).generic_string();
    CachedHash entry;
    entry.size = it->file_size(ec);
    if (ec) continue;
    entry.mtime_ns = MtimeNs(path, ec);
    if (ec) continue;
    auto hit = cached.find(rel);
    if (hit != cached.end() && hit->second.size == entry.size && hit->second.mtime_ns == entry.mtime_ns) {
      entry.sha256 = hit->second.sha256;
    } else {
      StatusOr<std::string> hash = Sha256File(path.string());
      if (!hash.ok()) continue;  // unreadable file: not indexed (its hash is then unknown)
      entry.sha256 = *hash;
      ++index.stats_.hashed;
    }
    current[rel] = entry;
    // Two files with the same content: the first in path order wins (stable).
    index.by_hash_.emplace(entry.sha256, ModelEntry{path.string(), entry.size, entry.sha256});
    ++index.stats_.files;
  }
  if (ec) return Unavailable("cannot list models directory " + index.models_dir_ + ": " + ec.message());
  bool changed = current.size() != cached.size() || index.stats_.hashed > 0;
  if (!changed) {
    for (const auto& [rel, c] : current) {
      if (!cached.count(rel)) changed = true;
    }
  }
  if (changed) index.stats_.cache_warning = WriteCache(cache_path, current);
  return index;
}

StatusOr<ModelEntry> ModelIndex::Find(const std::string& sha256) const {
  const std::string key = Lower(sha256);
  if (!IsHex64(key)) return InvalidArgument("'" + sha256 + "' is not a SHA-256 (64 hex digits)");
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) {
    return NotFound("no model with sha256 " + key + " under " + models_dir_ + " (" +
                    std::to_string(stats_.files) + " model files indexed)");
  }
  return it->second;
}

StatusOr<ModelEntry> ModelIndex::ResolveLoraRef(const std::string& ref) const {
  if (ref.rfind("sha256:", 0) == 0) return Find(ref.substr(7));
  if (ref.rfind("train:", 0) == 0) {
    return FailedPrecondition("LoRA '" + ref +
                              "' comes from a training job: it is fetched from farmd, not found "
                              "in the models dir (no trained-LoRA source configured)");
  }
  return InvalidArgument("LoRA ref '" + ref + "': expected sha256:<hex> or train:<hash>@<step>");
}

std::vector<std::string> ModelIndex::hashes() const {
  std::vector<std::string> out;
  out.reserve(by_hash_.size());
  for (const auto& [hash, entry] : by_hash_) out.push_back(hash);
  return out;
}

std::string DefaultModelsDir() {
  const char* env = std::getenv("STUDIOFARM_MODELS");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/studiofarm/models";
}

}  // namespace farm::agent
