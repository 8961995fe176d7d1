// Private to farm_store: a render's canonical record stored in two parts (migration
// 0014_render_settings.sql). The members a sweep's renders share (prompts, checkpoint,
// LoRAs, ControlNets, stages, pose and tone) are kept once in render_settings; a render
// row keeps only its own members (seed, sampler, scheduler, steps, CFG, clip skip,
// size, denoise). Joining the two gives back the canonical bytes exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::store {

// One top-level member of a JSON object: its key (between the quotes, as written) and
// its whole text (`"key":value`).
struct JsonMember {
  std::string_view key;
  std::string_view text;
};

// The top-level members of a JSON object in order; false when `object` is not one
// object written without whitespace (canonical JSON always is).
bool ScanJsonMembers(std::string_view object, std::vector<JsonMember>* members);

// Splits canonical render records into their shared and own parts (both JSON objects).
// It remembers the layouts it has seen (shared members and key order): a record laid out
// like an earlier one, as most records of a sweep are, is split by comparing its bytes
// with that layout instead of scanning it. One per batch; not thread-safe.
class RecordSplitter {
 public:
  struct Layout;
  struct Split {
    const std::string* shared = nullptr;  // nullptr: keep the record whole
    std::int64_t* settings_id = nullptr;  // the caller's slot for the shared part's row id
  };

  RecordSplitter();
  ~RecordSplitter();

  // The parts of `canonical`: `own` receives the own part; the shared part stays valid
  // until the next call. Whole (shared == nullptr) when the record has none of the own
  // members or when joining the parts would not give it back byte for byte.
  Split SplitRecord(std::string_view canonical, std::string* own);

 private:
  Split Learn(std::string_view canonical, std::string* own);

  std::vector<std::unique_ptr<Layout>> layouts_;  // most recently used first
};

// The canonical record of a split row: both parts' members merged in key order.
// DataLoss when either part is not a JSON object or a key is in both.
StatusOr<std::string> JoinRenderRecord(std::string_view shared, std::string_view own);

// A stable 64-bit fingerprint of a shared part (FNV-1a), for finding its row.
std::int64_t SettingsFingerprint(std::string_view shared);

}  // namespace farm::store
