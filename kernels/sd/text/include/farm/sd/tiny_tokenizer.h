// A small but real CLIP tokenizer for tiny test models: the tiny SD models have their
// own vocabulary size, and the engine must still run text through a genuine
// vocab.json/merges.txt pair.
//
// Layout (CLIP's own order): ids 0..255 the byte characters in bytes_to_unicode order,
// 256..511 the same with "</w>", then tokens made by BPE merges learned from a fixed
// built-in English corpus (plus deterministic synthetic words when more merges are
// needed), and the last two ids `<|startoftext|>` (vocab_size-2) and `<|endoftext|>`
// (vocab_size-1). Ties between equally frequent pairs go to the lexicographically
// smallest pair, so the files are byte-identical on every run.
#pragma once

#include <cstdint>
#include <string>

#include "farm/schemas/status.h"

namespace farm::sd {

// Smallest vocabulary: 512 byte tokens + the two special tokens.
inline constexpr int64_t kMinTinyVocabSize = 514;

// Writes `dir`/vocab.json and `dir`/merges.txt (creating `dir`), vocab_size >= 514.
Status WriteTinyTokenizerFiles(const std::string& dir, int64_t vocab_size);

}  // namespace farm::sd
