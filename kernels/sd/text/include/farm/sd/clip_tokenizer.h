// The byte-level BPE tokenizer of CLIP (openai's simple_tokenizer, transformers'
// CLIPTokenizer), read from the `vocab.json` + `merges.txt` pair that ships with every
// SD 1.5 model (`tokenizer/` in a diffusers folder).
//
// Encoding follows CLIP step by step:
//   1. text cleanup. ftfy is a Python package, so a subset of its default fixes is done
//      here: curly quotes become straight ones, the Latin ligatures (U+FB00..FB06) and
//      full-width ASCII become plain letters, C0 control characters other than
//      whitespace are removed, and HTML entities (named &amp; &lt; &gt; &quot; &apos;
//      &nbsp;, numeric &#NN; &#xHH;) are unescaped once unless the text contains a '<'
//      (ftfy's "auto" rule). No NFC/NFKC normalisation. Then runs of whitespace become
//      one space and the ends are trimmed.
//   2. lower-casing: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and the Latin
//      Extended Additional block (Python's str.lower covers all of Unicode).
//   3. the split `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
//      [^\s\p{L}\p{N}]+`, with letters/numbers/whitespace classified by a hand-written
//      table (ASCII exact; Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Thai, kana,
//      CJK and Hangul letters; the usual digit, superscript and fraction numbers).
//      Invalid UTF-8 bytes count as punctuation and are kept byte for byte.
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
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

class ClipTokenizer {
 public:
  static constexpr std::string_view kStartOfText = "<|startoftext|>";
  static constexpr std::string_view kEndOfText = "<|endoftext|>";

  // `merges.txt`: an optional first line starting with "#version" is skipped, blank lines
  // are ignored, every other line is "<left> <right>" with ranks in file order.
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
  // Largest id + 1.
  int64_t vocab_size() const;
  size_t merge_count() const;

 private:
  struct State;
  explicit ClipTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::vector<std::string> Bpe(const std::string& word) const;

  // Shared so copies are cheap; the BPE cache inside is guarded by a mutex.
  std::shared_ptr<State> state_;
};

}  // namespace farm::sd
