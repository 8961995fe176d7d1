// TokenizePrompt: A1111's tokenize_line (75-token chunks, BREAK, the comma look-back).
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "farm/sd/prompt.h"

namespace farm::sd {
namespace {

class ChunkBuilder {
 public:
  ChunkBuilder(const ClipTokenizer& tokenizer, const PromptChunkOptions& options)
      : tokenizer_(tokenizer), options_(options) {}

  // A1111's steps before each prompt token: note a comma, or move what follows the last
  // comma on when the chunk is full, then close a full chunk.
  void Prepare(int64_t token) {
    const auto length = static_cast<int64_t>(ids_.size());
    if (tokenizer_.comma_id() && token == *tokenizer_.comma_id()) {
      last_comma_ = length;
    } else if (options_.comma_backtrack != 0 && length == options_.chunk_length && last_comma_ != -1 &&
               length - last_comma_ <= options_.comma_backtrack) {
      // The chunk is full and a comma is near its end: what follows the comma moves on.
      const auto split = static_cast<size_t>(last_comma_ + 1);
      std::vector<int64_t> moved_ids(ids_.begin() + split, ids_.end());
      std::vector<float> moved_weights(weights_.begin() + split, weights_.end());
      std::vector<EmbeddingFix> moved_fixes;
      std::vector<EmbeddingFix> kept_fixes;
      for (EmbeddingFix fix : fixes_) {
        if (fix.offset >= static_cast<int64_t>(split)) {
          fix.offset -= static_cast<int64_t>(split);
          moved_fixes.push_back(fix);
        } else {
          kept_fixes.push_back(fix);
        }
      }
      ids_.resize(split);
      weights_.resize(split);
      fixes_ = std::move(kept_fixes);
      Close(false);
      ids_ = std::move(moved_ids);
      weights_ = std::move(moved_weights);
      fixes_ = std::move(moved_fixes);
    }
    if (static_cast<int64_t>(ids_.size()) == options_.chunk_length) Close(false);
  }

  void Add(int64_t token, float weight) {
    ids_.push_back(token);
    weights_.push_back(weight);
  }

  // An embedding's vectors take the next slots; one that would not fit whole in this
  // chunk starts the next.
  void AddEmbedding(const TextualInversion& embedding, float weight) {
    const int64_t count = embedding.vector_count();
    if (static_cast<int64_t>(ids_.size()) + count > options_.chunk_length) Close(false);
    fixes_.push_back({static_cast<int64_t>(ids_.size()), &embedding});
    ids_.insert(ids_.end(), static_cast<size_t>(count), 0);
    weights_.insert(weights_.end(), static_cast<size_t>(count), weight);
    if (std::find(used_.begin(), used_.end(), embedding.name) == used_.end()) used_.push_back(embedding.name);
  }

  // A1111's next_chunk: pad with EOS, wrap in BOS/EOS. Only the last chunk counts its
  // real tokens; the others count as full.
  void Close(bool is_last) {
    token_count_ += is_last ? static_cast<int64_t>(ids_.size()) : options_.chunk_length;
    PromptChunk chunk;
    chunk.ids.reserve(static_cast<size_t>(options_.chunk_length + 2));
    chunk.ids.push_back(tokenizer_.bos_id());
    chunk.ids.insert(chunk.ids.end(), ids_.begin(), ids_.end());
    chunk.weights.push_back(1.0f);
    chunk.weights.insert(chunk.weights.end(), weights_.begin(), weights_.end());
    while (static_cast<int64_t>(chunk.ids.size()) < options_.chunk_length + 2) {
      chunk.ids.push_back(tokenizer_.eos_id());
      chunk.weights.push_back(1.0f);
    }
    for (EmbeddingFix fix : fixes_) {
      fix.offset += 1;  // after BOS
      chunk.fixes.push_back(fix);
    }
    chunks_.push_back(std::move(chunk));
    ids_.clear();
    weights_.clear();
    fixes_.clear();
    last_comma_ = -1;
  }

  TokenizedPrompt Finish() {
    if (!ids_.empty() || chunks_.empty()) Close(true);
    return {std::move(chunks_), token_count_, std::move(used_)};
  }

 private:
  const ClipTokenizer& tokenizer_;
  const PromptChunkOptions& options_;
  std::vector<int64_t> ids_;
  std::vector<float> weights_;
  std::vector<EmbeddingFix> fixes_;  // offsets into ids_ (no BOS yet)
  int64_t last_comma_ = -1;
  int64_t token_count_ = 0;
  std::vector<PromptChunk> chunks_;
  std::vector<std::string> used_;
};

}  // namespace

StatusOr<TokenizedPrompt> TokenizePrompt(const ClipTokenizer& tokenizer, std::string_view text,
                                         const PromptChunkOptions& options) {
  if (options.chunk_length < 1) {
    return InvalidArgument("chunk_length must be positive, got " + std::to_string(options.chunk_length));
  }
  std::vector<PromptFragment> fragments;
  if (options.parse_attention) {
    FARM_ASSIGN_OR_RETURN(fragments, ParsePromptAttention(text));
  } else {
    fragments.push_back({std::string(text), 1.0, false});
  }
  ChunkBuilder builder(tokenizer, options);
  for (const PromptFragment& fragment : fragments) {
    if (fragment.is_break) {
      builder.Close(false);
      continue;
    }
    const auto weight = static_cast<float>(fragment.weight);
    const std::vector<int64_t> tokens = tokenizer.Encode(fragment.text);
    size_t position = 0;
    while (position < tokens.size()) {
      builder.Prepare(tokens[position]);
      std::optional<EmbeddingSet::Match> match;
      if (options.embeddings != nullptr) match = options.embeddings->Find(tokens, position);
      if (!match) {
        builder.Add(tokens[position], weight);
        ++position;
        continue;
      }
      if (match->embedding->vector_count() > options.chunk_length) {
        return InvalidArgument("embedding '" + match->embedding->name + "': " +
                               std::to_string(match->embedding->vector_count()) +
                               " vectors do not fit in a chunk of " + std::to_string(options.chunk_length) + " tokens");
      }
      builder.AddEmbedding(*match->embedding, weight);
      position += match->token_length;
    }
  }
  return builder.Finish();
}

PromptChunk EmptyPromptChunk(const ClipTokenizer& tokenizer, int64_t chunk_length) {
  PromptChunk chunk;
  chunk.ids.assign(static_cast<size_t>(chunk_length + 2), tokenizer.eos_id());
  chunk.ids[0] = tokenizer.bos_id();
  chunk.weights.assign(chunk.ids.size(), 1.0f);
  return chunk;
}

void EqualizeChunkCounts(std::vector<PromptChunk>& a, std::vector<PromptChunk>& b,
                         const ClipTokenizer& tokenizer) {
  const std::vector<PromptChunk>& longer = a.size() >= b.size() ? a : b;
  if (longer.empty()) return;
  const auto chunk_length = static_cast<int64_t>(longer.front().ids.size()) - 2;
  while (a.size() < b.size()) a.push_back(EmptyPromptChunk(tokenizer, chunk_length));
  while (b.size() < a.size()) b.push_back(EmptyPromptChunk(tokenizer, chunk_length));
}

at::Tensor ChunkIdsTensor(const std::vector<PromptChunk>& chunks) {
  const int64_t width = chunks.empty() ? 77 : static_cast<int64_t>(chunks.front().ids.size());
  at::Tensor ids = at::empty({static_cast<int64_t>(chunks.size()), width}, at::kLong);
  int64_t* out = ids.data_ptr<int64_t>();
  for (const PromptChunk& chunk : chunks) {
    // Every chunk of one prompt has the same length; a short one would be a bug upstream.
    std::memcpy(out, chunk.ids.data(), sizeof(int64_t) * std::min<size_t>(chunk.ids.size(), width));
    out += width;
  }
  return ids;
}

bool HasEmbeddingFixes(const std::vector<PromptChunk>& chunks) {
  return std::any_of(chunks.begin(), chunks.end(), [](const PromptChunk& c) { return !c.fixes.empty(); });
}

Status SubstituteEmbeddings(at::Tensor& token_embeddings, const std::vector<PromptChunk>& chunks) {
  if (!token_embeddings.defined() || token_embeddings.dim() != 3 ||
      token_embeddings.size(0) != static_cast<int64_t>(chunks.size())) {
    return InvalidArgument("embedding substitution: expected token embeddings [" + std::to_string(chunks.size()) +
                           ", tokens, width]");
  }
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (const EmbeddingFix& fix : chunks[c].fixes) {
      const at::Tensor& vectors = fix.embedding->vectors;
      const int64_t count = vectors.size(0);
      if (fix.offset < 0 || fix.offset + count > token_embeddings.size(1) ||
          vectors.size(1) != token_embeddings.size(2)) {
        return InvalidArgument("embedding '" + fix.embedding->name + "': " + std::to_string(count) + " vectors of width " +
                               std::to_string(vectors.size(1)) + " at token " + std::to_string(fix.offset) +
                               " do not fit token embeddings of shape [" + std::to_string(token_embeddings.size(1)) +
                               ", " + std::to_string(token_embeddings.size(2)) + "]");
      }
      token_embeddings[static_cast<int64_t>(c)].narrow(0, fix.offset, count).copy_(vectors);
    }
  }
  return Status::Ok();
}

std::vector<float> ChunkWeights(const std::vector<PromptChunk>& chunks) {
  std::vector<float> weights;
  for (const PromptChunk& chunk : chunks) weights.insert(weights.end(), chunk.weights.begin(), chunk.weights.end());
  return weights;
}

}  // namespace farm::sd
