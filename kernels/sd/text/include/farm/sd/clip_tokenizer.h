// The byte-level BPE tokenizer of CLIP (openai's simple_tokenizer, transformers'
// CLIPTokenizer). Its vocabulary ships with the library (Bundled(): openai's
// bpe_simple_vocab_16e6.txt.gz, kernels/sd/text/data/); the `vocab.json` + `merges.txt`
// pair of a diffusers `tokenizer/` folder can be loaded instead.
//
// Encoding follows openai's SimpleTokenizer.encode step by step (Unicode data from ICU):
//   1. text clean-up: ftfy.fix_text with ftfy 6.3.1's defaults, line by line until
//      nothing changes: HTML5 entities ending in ';' and numeric references (not on a
//      line with '<' nor after it), C1 controls as Windows-1252, Latin ligatures,
//      full-width/half-width forms (NFKC), curly quotes, line breaks, terminal escapes,
//      control characters, NFC. ftfy's mojibake repair (`fix_encoding`) is simplified:
//      a multi-byte UTF-8 character whose bytes were read as Windows-1252 or Latin-1
//      ("cafÃ©", "donâ€™t") is decoded again wherever it occurs; ftfy decides with a
//      badness heuristic, also restores bytes lost as spaces or '?', and tries other
//      encodings (1250, 1251, MacRoman, cp437, ...), none of which is done here, so such
//      text stays as written. Then Python's html.unescape twice, strip, runs of \s to
//      one space.
//   2. Python's str.lower() (full Unicode mappings, final sigma).
//   3. the split `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
//      [^\s\p{L}\p{N}]+` with IGNORECASE, alternatives tried in order at each position.
//   4. every UTF-8 byte mapped to a printable character (CLIP's bytes_to_unicode).
//   5. BPE over those characters with `</w>` appended to the last one, applying the
//      lowest-ranked merge first, every non-overlapping occurrence left to right.
//   6. tokens -> ids; a token missing from the vocabulary becomes the id of
//      `<|endoftext|>` (transformers' unk_token), which never happens with a vocabulary
//      that holds all 512 byte tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

class ClipTokenizer {
 public:
  static constexpr std::string_view kStartOfText = "<|startoftext|>";
  static constexpr std::string_view kEndOfText = "<|endoftext|>";

  // Merges beyond this are not part of CLIP's vocabulary (49152 - 256 - 2).
  static constexpr size_t kMaxMerges = 48894;

  // The vocabulary that ships with the library (parsed once, then shared).
  static StatusOr<ClipTokenizer> Bundled();
  // openai's `bpe_simple_vocab_16e6.txt.gz`: its first 48,894 merges after the header line
  // make the merges, and the vocabulary is the 256 byte characters, the same with "</w>",
  // each merge joined, then <|startoftext|> and <|endoftext|>.
  static StatusOr<ClipTokenizer> LoadBpeVocabGz(const std::string& path);
  // From the .gz file's bytes; `name` labels error messages.
  static StatusOr<ClipTokenizer> FromBpeVocabGz(std::string_view gz_bytes, const std::string& name);

  // `merges.txt`: an optional first line starting with "#version" is skipped, blank lines
  // are ignored, every other line is "<left> <right>" with ranks in file order; only the
  // first kMaxMerges are read, as CLIPTokenizer does.
  static StatusOr<ClipTokenizer> Load(const std::string& vocab_json_path,
                                      const std::string& merges_txt_path);
  // `dir`/vocab.json and `dir`/merges.txt (a diffusers `tokenizer/` folder).
  static StatusOr<ClipTokenizer> LoadFromDir(const std::string& dir);
  // From file contents; the names only label error messages ("vocab.json: ...").
  static StatusOr<ClipTokenizer> FromText(std::string_view vocab_json, std::string_view merges_txt,
                                          const std::string& vocab_name = "vocab.json",
                                          const std::string& merges_name = "merges.txt");

  // Token ids of `text` without BOS/EOS.
  std::vector<int64_t> Encode(std::string_view text) const;
  // The BPE tokens of `text` as strings (byte characters, "</w>" on word ends).
  std::vector<std::string> EncodeToTokens(std::string_view text) const;
  // BOS + ids + EOS, truncated to `length` (the EOS kept) and padded with EOS, as SD 1.5's
  // tokenizer is called (padding="max_length", truncation).
  std::vector<int64_t> EncodePadded(std::string_view text, int64_t length = 77) const;
  // The text of `ids` ("</w>" read as a space, trailing space trimmed).
  StatusOr<std::string> Decode(const std::vector<int64_t>& ids) const;

  // Steps 1-2 and step 3 above, exposed so tests can check them on their own.
  static std::string Normalize(std::string_view text);
  static std::vector<std::string> PreTokenize(std::string_view normalized);

  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t pad_id() const { return eos_id(); }  // SD 1.5 pads with EOS
  // Id of ",</w>", which prompt chunking uses to break lines at commas.
  std::optional<int64_t> comma_id() const;
  std::optional<int64_t> TokenId(std::string_view token) const;
  // The vocabulary string of `id`, if any.
  std::optional<std::string> Token(int64_t id) const;
  // The merges in rank order.
  const std::vector<std::pair<std::string, std::string>>& Merges() const;
  // Largest id + 1.
  int64_t vocab_size() const;
  size_t merge_count() const;

 private:
  struct State;
  explicit ClipTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // Looks up the special tokens once vocab and merges are in `state`.
  static StatusOr<ClipTokenizer> Finish(std::shared_ptr<State> state, const std::string& vocab_name);
  std::vector<std::string> Bpe(const std::string& word) const;

  // Shared so copies are cheap; the BPE cache inside is guarded by a mutex.
  std::shared_ptr<State> state_;
};

}  // namespace farm::sd
