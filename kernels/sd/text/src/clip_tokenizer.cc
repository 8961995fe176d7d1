#include "farm/sd/clip_tokenizer.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "bpe_vocab_gz.h"
#include "byte_unicode.h"
#include "farm/sd/json.h"
#include "unicode_text.h"

namespace farm::sd {

struct ClipTokenizer::State {
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token;  // "" where no token has that id
  std::unordered_map<std::string, int> merge_ranks;  // "left right" -> rank
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  size_t merge_count = 0;
  int64_t bos = 0;
  int64_t eos = 0;
  std::optional<int64_t> comma;

  std::mutex cache_mutex;
  std::unordered_map<std::string, std::vector<std::string>> cache;
};

namespace {

// Ids beyond this are refused so a hostile vocab.json cannot make us allocate gigabytes.
constexpr int64_t kMaxTokenId = int64_t{1} << 24;
// The cache is dropped when it grows past this many words (prompts are short).
constexpr size_t kMaxCacheEntries = 100000;

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open tokenizer file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return DataLoss(path + ": read error");
  return buffer.str();
}

std::string MergeKey(std::string_view left, std::string_view right) {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).append(" ").append(right);
  return key;
}

Status ReadVocab(std::string_view text, const std::string& name,
                 std::unordered_map<std::string, int64_t>& vocab,
                 std::vector<std::string>& id_to_token) {
  auto doc = Json::Parse(text);
  if (!doc.ok()) return InvalidArgument(name + ": " + doc.status().message());
  if (!doc->is_object()) {
    return InvalidArgument(name + ": expected an object {token: id}, found " +
                           std::string(Json::TypeName(doc->type())));
  }
  int64_t max_id = -1;
  for (const auto& [token, value] : doc->members()) {
    const std::optional<int64_t> id = value.AsInt64();
    if (!id || *id < 0 || *id >= kMaxTokenId) {
      return InvalidArgument(name + ": token \"" + token + "\": expected an integer id in [0, " +
                             std::to_string(kMaxTokenId) + ")");
    }
    if (token.empty()) return InvalidArgument(name + ": empty token string (id " + std::to_string(*id) + ")");
    vocab.emplace(token, *id);
    max_id = std::max(max_id, *id);
  }
  id_to_token.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [token, id] : vocab) {
    std::string& slot = id_to_token[static_cast<size_t>(id)];
    if (!slot.empty()) {
      return InvalidArgument(name + ": id " + std::to_string(id) + " is used by both \"" + slot +
                             "\" and \"" + token + "\"");
    }
    slot = token;
  }
  return Status::Ok();
}

Status ReadMerges(std::string_view text, const std::string& name,
                  std::unordered_map<std::string, int>& ranks,
                  std::vector<std::pair<std::string, std::string>>& merges, size_t& count) {
  int rank = 0;
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_number == 1 && line.substr(0, 8) == "#version") continue;
    std::vector<std::string_view> parts;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const size_t word_start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > word_start) parts.push_back(line.substr(word_start, i - word_start));
    }
    if (parts.empty()) continue;
    // Like CLIPTokenizer, which keeps merges[1:49152-256-2+1]: the rest are not in the vocabulary.
    if (static_cast<size_t>(rank) == ClipTokenizer::kMaxMerges) break;
    if (parts.size() != 2) {
      return InvalidArgument(name + ": line " + std::to_string(line_number) +
                             ": expected two tokens separated by a space, found " +
                             std::to_string(parts.size()));
    }
    if (rank == INT_MAX) return InvalidArgument(name + ": too many merges");
    // Like dict(zip(merges, range(n))): a repeated pair keeps its last rank.
    ranks[MergeKey(parts[0], parts[1])] = rank++;
    merges.emplace_back(parts[0], parts[1]);
  }
  count = static_cast<size_t>(rank);
  return Status::Ok();
}

}  // namespace

StatusOr<ClipTokenizer> ClipTokenizer::FromText(std::string_view vocab_json, std::string_view merges_txt,
                                                const std::string& vocab_name,
                                                const std::string& merges_name) {
  auto state = std::make_shared<State>();
  FARM_RETURN_IF_ERROR(ReadVocab(vocab_json, vocab_name, state->vocab, state->id_to_token));
  FARM_RETURN_IF_ERROR(
      ReadMerges(merges_txt, merges_name, state->merge_ranks, state->merges, state->merge_count));
  return Finish(std::move(state), vocab_name);
}

StatusOr<ClipTokenizer> ClipTokenizer::Finish(std::shared_ptr<State> state, const std::string& vocab_name) {
  const auto special = [&](std::string_view token) -> StatusOr<int64_t> {
    auto it = state->vocab.find(std::string(token));
    if (it == state->vocab.end()) {
      return InvalidArgument(vocab_name + ": the special token " + std::string(token) + " is missing");
    }
    return it->second;
  };
  FARM_ASSIGN_OR_RETURN(state->bos, special(kStartOfText));
  FARM_ASSIGN_OR_RETURN(state->eos, special(kEndOfText));
  if (auto it = state->vocab.find(",</w>"); it != state->vocab.end()) state->comma = it->second;
  return ClipTokenizer(std::move(state));
}

StatusOr<ClipTokenizer> ClipTokenizer::Load(const std::string& vocab_json_path,
                                            const std::string& merges_txt_path) {
  FARM_ASSIGN_OR_RETURN(std::string vocab, ReadWholeFile(vocab_json_path));
  FARM_ASSIGN_OR_RETURN(std::string merges, ReadWholeFile(merges_txt_path));
  return FromText(vocab, merges, vocab_json_path, merges_txt_path);
}

StatusOr<ClipTokenizer> ClipTokenizer::FromBpeVocabGz(std::string_view gz_bytes, const std::string& name) {
  FARM_ASSIGN_OR_RETURN(BpeVocab parsed, ParseBpeVocabGz(gz_bytes, name, kMaxMerges));
  auto state = std::make_shared<State>();
  state->id_to_token = std::move(parsed.tokens);
  for (size_t id = 0; id < state->id_to_token.size(); ++id) {
    // Like dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last id.
    state->vocab.insert_or_assign(state->id_to_token[id], static_cast<int64_t>(id));
  }
  for (size_t rank = 0; rank < parsed.merges.size(); ++rank) {
    state->merge_ranks[MergeKey(parsed.merges[rank].first, parsed.merges[rank].second)] = static_cast<int>(rank);
  }
  state->merge_count = parsed.merges.size();
  state->merges = std::move(parsed.merges);
  return Finish(std::move(state), name);
}

StatusOr<ClipTokenizer> ClipTokenizer::LoadBpeVocabGz(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  return FromBpeVocabGz(bytes, path);
}

StatusOr<ClipTokenizer> ClipTokenizer::Bundled() {
  static const StatusOr<ClipTokenizer> bundled =
      FromBpeVocabGz(BundledBpeVocabGz(), std::string(kBundledBpeVocabName));
  return bundled;
}

StatusOr<ClipTokenizer> ClipTokenizer::LoadFromDir(const std::string& dir) {
  return Load(dir + "/vocab.json", dir + "/merges.txt");
}

std::vector<std::string> ClipTokenizer::Bpe(const std::string& word) const {
  if (word == kStartOfText || word == kEndOfText) return {word};
  {
    std::lock_guard<std::mutex> lock(state_->cache_mutex);
    if (auto it = state_->cache.find(word); it != state_->cache.end()) return it->second;
  }
  // One symbol per character; the last carries the end-of-word marker.
  std::vector<std::string> symbols;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = unicode::DecodeAt(word, pos).length;
    symbols.emplace_back(word.substr(pos, length));
    pos += length;
  }
  if (symbols.empty()) return {};
  symbols.back() += "</w>";

  while (symbols.size() > 1) {
    int best_rank = INT_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = state_->merge_ranks.find(MergeKey(symbols[i], symbols[i + 1]));
      if (it != state_->merge_ranks.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == INT_MAX) break;
    const std::string left = symbols[best];
    const std::string right = symbols[best + 1];
    // Every non-overlapping occurrence of the pair, left to right.
    std::vector<std::string> merged;
    merged.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        merged.push_back(left + right);
        i += 2;
      } else {
        merged.push_back(std::move(symbols[i]));
        i += 1;
      }
    }
    symbols = std::move(merged);
  }

  std::lock_guard<std::mutex> lock(state_->cache_mutex);
  if (state_->cache.size() >= kMaxCacheEntries) state_->cache.clear();
  state_->cache.emplace(word, symbols);
  return symbols;
}

std::vector<std::string> ClipTokenizer::EncodeToTokens(std::string_view text) const {
  const auto& byte_chars = ByteToUnicode();
  std::vector<std::string> tokens;
  for (const std::string& word : PreTokenize(Normalize(text))) {
    std::string encoded;
    for (unsigned char byte : word) encoded += byte_chars[byte];
    for (std::string& piece : Bpe(encoded)) tokens.push_back(std::move(piece));
  }
  return tokens;
}

std::vector<int64_t> ClipTokenizer::Encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& token : EncodeToTokens(text)) {
    auto it = state_->vocab.find(token);
    ids.push_back(it == state_->vocab.end() ? state_->eos : it->second);
  }
  return ids;
}

std::vector<int64_t> ClipTokenizer::EncodePadded(std::string_view text, int64_t length) const {
  std::vector<int64_t> ids = Encode(text);
  const size_t body = length > 2 ? static_cast<size_t>(length - 2) : 0;
  if (ids.size() > body) ids.resize(body);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(length, 2)));
  out.push_back(state_->bos);
  out.insert(out.end(), ids.begin(), ids.end());
  out.push_back(state_->eos);
  while (static_cast<int64_t>(out.size()) < length) out.push_back(state_->eos);
  return out;
}

StatusOr<std::string> ClipTokenizer::Decode(const std::vector<int64_t>& ids) const {
  std::string joined;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size() || state_->id_to_token[static_cast<size_t>(id)].empty()) {
      return InvalidArgument("token id " + std::to_string(id) + " is not in the vocabulary");
    }
    joined += state_->id_to_token[static_cast<size_t>(id)];
  }
  // Byte characters back to bytes; a character outside the table is kept as it is.
  const auto& to_byte = UnicodeToByte();
  std::string bytes;
  for (size_t pos = 0; pos < joined.size();) {
    const size_t length = unicode::DecodeAt(joined, pos).length;
    const std::string ch = joined.substr(pos, length);
    if (auto it = to_byte.find(ch); it != to_byte.end()) {
      bytes += static_cast<char>(it->second);
    } else {
      bytes += ch;
    }
    pos += length;
  }
  std::string text;
  for (size_t pos = 0; pos < bytes.size();) {
    if (bytes.compare(pos, 4, "</w>") == 0) {
      text += ' ';
      pos += 4;
    } else {
      text += bytes[pos++];
    }
  }
  const size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) return std::string();
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

int64_t ClipTokenizer::bos_id() const { return state_->bos; }
int64_t ClipTokenizer::eos_id() const { return state_->eos; }
std::optional<int64_t> ClipTokenizer::comma_id() const { return state_->comma; }
int64_t ClipTokenizer::vocab_size() const { return static_cast<int64_t>(state_->id_to_token.size()); }
size_t ClipTokenizer::merge_count() const { return state_->merge_count; }

std::optional<std::string> ClipTokenizer::Token(int64_t id) const {
  if (id < 0 || id >= vocab_size() || state_->id_to_token[static_cast<size_t>(id)].empty()) return std::nullopt;
  return state_->id_to_token[static_cast<size_t>(id)];
}

const std::vector<std::pair<std::string, std::string>>& ClipTokenizer::Merges() const { return state_->merges; }

std::optional<int64_t> ClipTokenizer::TokenId(std::string_view token) const {
  auto it = state_->vocab.find(std::string(token));
  if (it == state_->vocab.end()) return std::nullopt;
  return it->second;
}

}  // namespace farm::sd
