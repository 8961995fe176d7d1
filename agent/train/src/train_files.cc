#include "farm/agent/train_files.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "farm/sd/kohya_lora_writer.h"
#include "farm/sd/safetensors.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace fs = std::filesystem;
namespace {

constexpr char kFingerprintKey[] = "studiofarm.train.fingerprint";
constexpr char kWorldSizeKey[] = "studiofarm.train.world_size";
constexpr char kStepKey[] = "studiofarm.train.step";

std::string Padded(int64_t step) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%06lld", static_cast<long long>(step));
  return buffer;
}


}  // namespace

std::string LoraFileName(int64_t step) { return "lora-" + Padded(step) + ".safetensors"; }
std::string StateFileName(int64_t step) { return "state-" + Padded(step) + ".safetensors"; }

StatusOr<WrittenLora> WriteLoraCheckpoint(const std::string& out_dir, const std::string& name,
                                          const sd::TensorMap& tensors,
                                          const std::map<std::string, std::string>& metadata) {
  WrittenLora written;
  written.path = (fs::path(out_dir) / name).string();
  FARM_ASSIGN_OR_RETURN(written.hashes, sd::WriteKohyaLora(written.path, tensors, metadata));
  FARM_ASSIGN_OR_RETURN(written.sha256, Sha256File(written.path));
  return written;
}

Status WriteTrainState(const std::string& out_dir, int64_t step, const sd::TensorMap& state,
                       const std::string& fingerprint, int world_size) {
  return sd::WriteSafetensors((fs::path(out_dir) / StateFileName(step)).string(), state,
                              {{kFingerprintKey, fingerprint},
                               {kWorldSizeKey, std::to_string(world_size)},
                               {kStepKey, std::to_string(step)}});
}

StatusOr<std::optional<FoundState>> FindLatestState(const std::string& out_dir, const std::string& fingerprint,
                                                    int world_size) {
  std::optional<FoundState> latest;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return latest;
  static const std::regex kState(R"(state-(\d{6,})\.safetensors)");
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, kState)) continue;
    const int64_t step = std::stoll(m[1]);
    if (!fs::exists(fs::path(out_dir) / LoraFileName(step))) continue;
    FARM_ASSIGN_OR_RETURN(auto file, sd::SafetensorsFile::Open(entry.path().string()));
    const auto& meta = file->metadata();
    auto fp = meta.find(kFingerprintKey);
    auto ws = meta.find(kWorldSizeKey);
    if (fp == meta.end() || fp->second != fingerprint) {
      return FailedPrecondition(entry.path().string() + " was saved by a run with other settings; "
                                "use another output folder or remove it");
    }
    if (ws == meta.end() || ws->second != std::to_string(world_size)) {
      return FailedPrecondition(entry.path().string() + " was saved by a run of " +
                                (ws == meta.end() ? std::string("?") : ws->second) + " ranks, this run has " +
                                std::to_string(world_size) + " (the global batch would differ)");
    }
    if (!latest || step > latest->step) latest = FoundState{step, entry.path().string()};
  }
  return latest;
}

}  // namespace farm::agent
