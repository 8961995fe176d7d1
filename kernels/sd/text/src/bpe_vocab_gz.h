// openai CLIP's `bpe_simple_vocab_16e6.txt.gz`, read into the vocabulary and merges that
// SD 1.5's `vocab.json`/`merges.txt` are derived from.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

struct BpeVocab {
  std::vector<std::string> tokens;  // id order: bytes, bytes + "</w>", merges, the two specials
  std::vector<std::pair<std::string, std::string>> merges;  // rank order
};

// `gz_bytes` is the gzip file; `name` labels errors ("<name>: corrupt gzip data ...").
StatusOr<BpeVocab> ParseBpeVocabGz(std::string_view gz_bytes, const std::string& name, size_t merge_count);

// The copy compiled into the library.
std::string_view BundledBpeVocabGz();
inline constexpr std::string_view kBundledBpeVocabName = "bpe_simple_vocab_16e6.txt.gz (bundled)";

}  // namespace farm::sd
