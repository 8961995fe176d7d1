// The prompt syntax of AUTOMATIC1111's web UI, which the farm's users write:
// extra-network tags `<lora:name:weight>`, attention weights `(word:1.3)` / `(word)` /
// `[word]`, `BREAK`, and prompts longer than CLIP's 75 tokens split into chunks whose
// CLIP outputs are concatenated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/ATen.h>

#include "farm/schemas/status.h"
#include "farm/sd/clip_tokenizer.h"
#include "farm/sd/textual_inversion.h"

namespace farm::sd {

// ---- extra-network tags ----------------------------------------------------------

struct LoraTag {
  std::string name;
  double weight = 1.0;
};

struct LoraExtraction {
  std::string prompt;          // the prompt with every tag cut out (nothing else changed)
  std::vector<LoraTag> loras;  // in prompt order
};

// Finds A1111 extra-network tags `<kind:params>` (kind = word characters). `lora` and
// `lyco` (A1111 loads LyCORIS files through the same Lora network) are extracted as
// `<lora:name>` or `<lora:name:weight>` (weight default 1.0); name and weight are
// trimmed. Other kinds (hypernet, ...) are refused because the engine cannot apply them.
// A '<' not followed by `word:` is plain text ("<3"). Errors name the 1-based character
// column: unterminated tag, empty name, bad weight, extra parameters, unknown kind.
StatusOr<LoraExtraction> ExtractLoraTags(std::string_view prompt);

// ---- attention syntax ------------------------------------------------------------

struct PromptFragment {
  std::string text;
  double weight = 1.0;
  bool is_break = false;  // a BREAK marker (text "BREAK"); forces a new chunk
};

// A1111's parse_prompt_attention: `(x)` multiplies by 1.1, `[x]` by 1/1.1, `(x:w)` by w,
// nesting multiplies; `\(` `\)` `\[` `\]` `\\` are literal characters and any other
// lone backslash is dropped; an unmatched `)`/`]` is literal text; brackets still open
// at the end apply to everything after them; `BREAK` as a whole word (surrounding
// whitespace removed) becomes a marker; runs of equal weight are merged; an empty text
// gives one empty fragment of weight 1. Multiplications happen in A1111's order on
// doubles, so weights and merges match it exactly (including its quirk that a BREAK
// inside brackets is multiplied too and then stays the literal word "BREAK").
// Error: `(x:1.2.3)` (A1111 raises there), with the column.
StatusOr<std::vector<PromptFragment>> ParsePromptAttention(std::string_view text);

// ---- chunks of 77 tokens -------------------------------------------------------

// A textual-inversion embedding's vectors go at ids[offset .. offset + n) of its chunk
// (offset >= 1: after BOS); those ids are placeholders (0, as A1111 writes).
struct EmbeddingFix {
  int64_t offset = 0;
  const TextualInversion* embedding = nullptr;  // owned by the EmbeddingSet that was used
};

struct PromptChunk {
  std::vector<int64_t> ids;   // BOS, chunk_length tokens (EOS padded), EOS
  std::vector<float> weights; // per id; 1.0 for BOS, EOS and padding
  std::vector<EmbeddingFix> fixes;  // in offset order
};

struct TokenizedPrompt {
  std::vector<PromptChunk> chunks;  // at least one
  int64_t token_count = 0;          // A1111's count: 75 per full chunk + the last one's tokens
  std::vector<std::string> embeddings_used;  // names, in order of first use
};

struct PromptChunkOptions {
  int64_t chunk_length = 75;      // prompt tokens per chunk (77 with BOS and EOS)
  int64_t comma_backtrack = 20;   // A1111 "comma_padding_backtrack"; 0 disables
  bool parse_attention = true;    // false: the text is literal (A1111 emphasis "None")
  // Textual-inversion embeddings the prompt may call by name; null or empty: none. Must
  // outlive the TokenizedPrompt (its fixes point into it).
  const EmbeddingSet* embeddings = nullptr;
};

// A1111's tokenize_line: each fragment is tokenized on its own; a BREAK closes the current
// chunk; when a chunk is full and the last comma in it is at most `comma_backtrack`
// tokens from its end, the tokens after that comma move to the next chunk; chunks are
// padded with EOS and wrapped in BOS/EOS. An embedding's name (matched on the fragment's
// token ids, longest first) takes as many slots as it has vectors, all with the
// fragment's weight; one that would straddle two chunks starts the next one, as A1111
// does. Unlike A1111, whose comma look-back moves the tokens after the comma but leaves
// their embedding fixes behind (so the vectors land in the old chunk's padding and the
// new chunk gets the placeholder token), fixes move with their slots.
StatusOr<TokenizedPrompt> TokenizePrompt(const ClipTokenizer& tokenizer, std::string_view text,
                                         const PromptChunkOptions& options = {});

// BOS followed by chunk_length+1 EOS, all weights 1 (what an empty prompt gives).
PromptChunk EmptyPromptChunk(const ClipTokenizer& tokenizer, int64_t chunk_length = 75);

// A1111 encodes cond and uncond chunk by chunk; the shorter list is extended with empty
// chunks so both concatenate to the same number of tokens.
void EqualizeChunkCounts(std::vector<PromptChunk>& a, std::vector<PromptChunk>& b,
                         const ClipTokenizer& tokenizer);

// The ids as an int64 tensor [chunks, 77] (one CLIP batch), and the weights flattened
// in the same order (chunks*77 values) for ApplyPromptWeights.
at::Tensor ChunkIdsTensor(const std::vector<PromptChunk>& chunks);
std::vector<float> ChunkWeights(const std::vector<PromptChunk>& chunks);

// Whether any chunk has an embedding to substitute.
bool HasEmbeddingFixes(const std::vector<PromptChunk>& chunks);
// Writes each chunk's embedding vectors into token_embeddings [chunks, 77, width] (the
// token embedding lookup of ChunkIdsTensor, before position embeddings), converted to its
// dtype and device. Error when a fix does not fit the tensor.
Status SubstituteEmbeddings(at::Tensor& token_embeddings, const std::vector<PromptChunk>& chunks);

// A1111's "Original" emphasis on CLIP output z, [B, T, C] or [T, C] with T =
// weights.size() a multiple of `chunk_tokens` (77): for each chunk separately (A1111
// runs CLIP and the emphasis per chunk), z *= weight of its token, then the chunk is
// rescaled so that its mean over all elements (the whole batch) equals the mean before
// weighting. If the weighted mean is exactly 0 the rescale is skipped (A1111 would
// divide by zero). Computed in z's dtype and device.
StatusOr<at::Tensor> ApplyPromptWeights(const at::Tensor& z, const std::vector<float>& weights,
                                        int64_t chunk_tokens = 77);

}  // namespace farm::sd
