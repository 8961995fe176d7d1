// Generation parameters in the "infotext" format AUTOMATIC1111's web UI writes into a
// PNG's `parameters` text chunk and that SD front ends read back:
//
//   PROMPT (one or more lines)
//   Negative prompt: NEG (one or more lines; the line is absent when NEG is empty)
//   Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x768, ...
//
// The last line holds "Key: value" pairs separated by ", "; a value holding ',', ':',
// a quote, a line break or edge spaces is written as a JSON string
// (Lora hashes: "name: hash"). Readers take the last line as parameters only when it
// holds at least three pairs, and strip every prompt line, as A1111 does.
//
// Pure text (standard library only, target farm_infotext): the agent writes it into the
// PNG (kernels/image), farmctl prints it (top, export) without linking the image code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm {

struct GenerationParameters {
  std::string prompt;
  std::string negative_prompt;  // empty: no "Negative prompt:" line
  std::vector<std::pair<std::string, std::string>> fields;  // in order, values unquoted

  // The value of the last field named `key` (a front end's dict keeps the last one).
  const std::string* Find(std::string_view key) const;
  // Replaces the value of an existing `key` or appends the field.
  void Set(const std::string& key, std::string value);
};

// The infotext. InvalidArgument when it would not read back the same: a key that is not
// a word character followed by 1+ word characters, spaces, '-' or '/' (or ends in a
// space); fewer than 3 fields; a prompt or negative prompt line starting with
// "Negative prompt:"; text that is not UTF-8. Prompt lines are read back stripped of
// leading and trailing spaces, as A1111 reads them.
StatusOr<std::string> FormatParameters(const GenerationParameters& params);

// Reads an infotext as A1111's parse_generation_parameters does (never fails: text that
// is not an infotext comes back as a prompt without fields). Fields keep the file's
// order; quoted values are unquoted; "Size: 512x768" stays one field.
GenerationParameters ParseParameters(std::string_view text);

// The usual A1111 fields of a farm render, in A1111's order, then the farm's own.
struct LoraHash {
  std::string name;
  std::string hash;  // short hash as front ends print it
};
struct RenderInfotext {
  std::string prompt;
  std::string negative_prompt;
  int steps = 0;
  std::string sampler;  // "DPM++ 2M Karras"
  double cfg_scale = 0;
  std::int64_t seed = 0;
  int width = 0;
  int height = 0;
  std::string model_hash;  // short hash, e.g. the first 10 hex digits of the SHA-256
  std::string model;       // checkpoint name without extension
  std::string vae_hash;    // short hash of a separate VAE file; empty: the checkpoint's
  int clip_skip = 0;       // 0: not written
  std::vector<LoraHash> loras;
  // Textual-inversion embeddings: name (':' and ',' removed, as A1111 does) and the
  // first 12 hex digits of the file's SHA-256 ("TI hashes").
  std::vector<LoraHash> embeddings;
  std::vector<std::pair<std::string, std::string>> extra;  // written after TI hashes
  std::string param_hash;  // "StudioFarm param_hash"
  std::string render_id;   // "Render id"
};

// Steps, Sampler, CFG scale, Seed, Size, Model hash, Model, VAE hash, Clip skip, Lora hashes,
// TI hashes, extra..., StudioFarm param_hash, Render id (empty strings and zero counts omitted).
GenerationParameters ToGenerationParameters(const RenderInfotext& info);

// "7", "7.5": the shortest decimal that reads back as the same double.
std::string FormatInfotextNumber(double value);

// Splits "512x768"; false when the value is not WIDTHxHEIGHT with positive integers.
bool ParseSizeValue(std::string_view value, int* width, int* height);

}  // namespace farm
