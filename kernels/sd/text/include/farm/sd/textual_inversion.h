// Textual-inversion embeddings as AUTOMATIC1111's web UI uses them: a file holds n
// vectors of the text encoder's width; wherever the embedding's name appears in a
// prompt, its n vectors replace the name's tokens (taking n of the chunk's 75 slots)
// before the position embeddings are added.
//
// Files: safetensors only. A1111 reads one of
//   - a single tensor [n, width] or [width]: kohya's and A1111's `emb_params`, a
//     diffusers concept (`<token>`), or a file with `clip_l` alone;
//   - `clip_g` + `clip_l` (an SDXL embedding): A1111 skips it on SD 1.5 because its
//     width (1280 + 768) is not the encoder's, so it is refused here, naming SDXL;
//   - `string_to_param` dicts in `.pt`/`.bin` pickles: refused like every pickle
//     (unpickling can run code), with the conversion to safetensors in the message.
// More than one tensor (other than SDXL's pair) is refused, as A1111 refuses "multiple
// terms"; so is a tensor with no vectors or more vectors than fit in one chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "farm/schemas/status.h"
#include "farm/sd/clip_tokenizer.h"

namespace farm::sd {

struct TextualInversion {
  std::string name;    // the word that calls it in a prompt
  at::Tensor vectors;  // [n, width] float32 on the CPU, n >= 1
  std::string path;    // where it was read from (messages only)

  int64_t vector_count() const { return vectors.defined() ? vectors.size(0) : 0; }
  int64_t width() const { return vectors.defined() ? vectors.size(1) : 0; }
};

// Reads `path`; `name` empty: the file's stem, as A1111 names embeddings
// ("EasyNegative.safetensors" -> "EasyNegative"). Errors name the file and what was
// expected.
StatusOr<TextualInversion> ReadTextualInversion(const std::string& path, std::string name = "");

// Every embedding in `dir` and its subfolders, as A1111's embeddings folder: each
// *.safetensors, named by its stem, in path order. A pickle (.pt, .bin, .pth, .ckpt) is an
// error naming it rather than silently left out; other files (preview images, notes)
// are skipped. Two files with the same stem are an error.
StatusOr<std::vector<TextualInversion>> ReadTextualInversionDir(const std::string& dir);

// The embeddings a prompt may call, looked up by token ids as A1111 does: each name is
// tokenized (the tokenizer lowercases, so "EasyNegative" and "easynegative" are one name)
// and at each prompt token the longest name starting there wins.
class EmbeddingSet {
 public:
  struct Match {
    const TextualInversion* embedding;
    size_t token_length;  // prompt tokens the name covers
  };

  EmbeddingSet() = default;
  // Checks every embedding against the text encoder's `width` and the chunk length
  // (`max_vectors`, 75 for SD 1.5); refuses empty names and two embeddings whose names
  // tokenize alike. Errors name the embedding and its file.
  static StatusOr<EmbeddingSet> Create(const ClipTokenizer& tokenizer, std::vector<TextualInversion> embeddings,
                                       int64_t width, int64_t max_vectors = 75);

  // The embedding whose name's tokens start at tokens[position], the longest if several.
  std::optional<Match> Find(const std::vector<int64_t>& tokens, size_t position) const;

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<int64_t> ids;
    std::shared_ptr<const TextualInversion> embedding;  // stable address for Match
  };
  std::vector<Entry> entries_;  // longest ids first
};

}  // namespace farm::sd
