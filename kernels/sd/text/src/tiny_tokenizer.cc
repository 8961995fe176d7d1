#include "farm/sd/tiny_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "byte_unicode.h"
#include "farm/sd/clip_tokenizer.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

// Words a portrait prompt is made of; the early merges come from here.
constexpr std::string_view kCorpus =
    "a portrait photo of a woman with long brown hair, soft light, looking at the camera. "
    "a close up portrait of a man with a short beard, studio lighting, sharp focus. "
    "professional headshot of a smiling person in a business suit, shallow depth of field. "
    "a photograph of a young woman standing in a garden, golden hour, natural light. "
    "an old man with grey hair and glasses, black and white photo, dramatic shadows. "
    "portrait of a girl with freckles and red hair, highly detailed skin, bokeh background. "
    "a painting of a person sitting by the window, oil on canvas, warm colors. "
    "masterpiece, best quality, detailed eyes, realistic face, beautiful lighting, 8k. "
    "worst quality, low quality, blurry, deformed hands, extra fingers, watermark, text. "
    "the photographer used a fifty millimeter lens and a wide aperture for the portraits. "
    "she is wearing a blue dress and a silver necklace, the wind moves her hair. "
    "he is wearing a leather jacket, city street at night, neon lights, rain. "
    "cinematic still of an actor, film grain, moody atmosphere, dark background. "
    "a happy family outdoors in the park, summer afternoon, candid photography. "
    "an elegant lady in a red hat, vintage style, soft focus, pastel colors. "
    "a smiling child with curly hair, bright morning sunlight, colorful clothes. ";

// Deterministic pronounceable words, so larger vocabularies still find pairs to merge.
std::vector<std::string> SyntheticWords(size_t count) {
  constexpr std::string_view kConsonants = "bcdfghjklmnprstvwz";
  constexpr std::string_view kVowels = "aeiou";
  uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  std::vector<std::string> words;
  words.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string word;
    const uint64_t syllables = 2 + next(3);
    for (uint64_t s = 0; s < syllables; ++s) {
      word += kConsonants[next(kConsonants.size())];
      word += kVowels[next(kVowels.size())];
    }
    words.push_back(std::move(word));
  }
  return words;
}

struct Word {
  std::vector<std::string> symbols;
  int64_t count = 0;
};

// Byte-encoded words of `text` split into BPE symbols, counted (std::map: fixed order).
void AddWords(std::string_view text, int64_t weight, std::map<std::string, int64_t>& counts) {
  const auto& byte_chars = ByteToUnicode();
  for (const std::string& word : ClipTokenizer::PreTokenize(ClipTokenizer::Normalize(text))) {
    std::string encoded;
    for (unsigned char byte : word) encoded += byte_chars[byte];
    counts[encoded] += weight;
  }
}

std::vector<Word> SplitIntoSymbols(const std::map<std::string, int64_t>& counts) {
  std::vector<Word> words;
  for (const auto& [encoded, count] : counts) {
    Word word;
    word.count = count;
    for (size_t pos = 0; pos < encoded.size();) {
      const size_t length = unicode::DecodeAt(encoded, pos).length;
      word.symbols.push_back(encoded.substr(pos, length));
      pos += length;
    }
    word.symbols.back() += "</w>";
    words.push_back(std::move(word));
  }
  return words;
}

using Pair = std::pair<std::string, std::string>;

// The most frequent adjacent pair; ties go to the smallest pair. False when none is left.
bool MostFrequentPair(const std::vector<Word>& words, Pair& best) {
  std::unordered_map<std::string, int64_t> counts;  // "left right" (symbols have no spaces)
  for (const Word& word : words) {
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      counts[word.symbols[i] + " " + word.symbols[i + 1]] += word.count;
    }
  }
  int64_t best_count = 0;
  for (const auto& [key, count] : counts) {
    const size_t space = key.find(' ');
    Pair pair{key.substr(0, space), key.substr(space + 1)};
    if (count > best_count || (count == best_count && pair < best)) {
      best_count = count;
      best = std::move(pair);
    }
  }
  return best_count > 0;
}

void ApplyMerge(const Pair& pair, std::vector<Word>& words) {
  for (Word& word : words) {
    std::vector<std::string> merged;
    merged.reserve(word.symbols.size());
    for (size_t i = 0; i < word.symbols.size();) {
      if (i + 1 < word.symbols.size() && word.symbols[i] == pair.first &&
          word.symbols[i + 1] == pair.second) {
        merged.push_back(pair.first + pair.second);
        i += 2;
      } else {
        merged.push_back(std::move(word.symbols[i]));
        i += 1;
      }
    }
    word.symbols = std::move(merged);
  }
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Unavailable(path.string() + ": cannot create file");
  out << content;
  out.close();
  if (!out) return Unavailable(path.string() + ": write failed");
  return Status::Ok();
}

}  // namespace

Status WriteTinyTokenizerFiles(const std::string& dir, int64_t vocab_size) {
  if (vocab_size < kMinTinyVocabSize) {
    return InvalidArgument("tiny tokenizer: vocab_size " + std::to_string(vocab_size) +
                           " is below the minimum " + std::to_string(kMinTinyVocabSize) +
                           " (512 byte tokens + 2 special tokens)");
  }
  if (vocab_size > 20000) {
    return InvalidArgument("tiny tokenizer: vocab_size " + std::to_string(vocab_size) +
                           " is above 20000; use a real CLIP vocabulary");
  }
  const auto& byte_chars = ByteToUnicode();
  std::vector<std::string> tokens;
  std::set<std::string> known;
  for (uint8_t byte : ByteVocabularyOrder()) tokens.push_back(byte_chars[byte]);
  for (uint8_t byte : ByteVocabularyOrder()) tokens.push_back(byte_chars[byte] + "</w>");
  known.insert(tokens.begin(), tokens.end());

  const size_t target = static_cast<size_t>(vocab_size - 2);
  std::map<std::string, int64_t> counts;
  AddWords(kCorpus, 4, counts);
  for (const std::string& word : SyntheticWords(2 * (target - tokens.size()))) AddWords(word, 1, counts);
  std::vector<Word> words = SplitIntoSymbols(counts);

  std::vector<Pair> merges;
  while (tokens.size() < target) {
    Pair pair;
    if (!MostFrequentPair(words, pair)) {
      return Internal("tiny tokenizer: the corpus ran out of pairs after " +
                      std::to_string(merges.size()) + " merges");
    }
    ApplyMerge(pair, words);
    // Two merges can spell the same token ("ab"+"c", "a"+"bc"); it gets one id.
    if (known.insert(pair.first + pair.second).second) tokens.push_back(pair.first + pair.second);
    merges.push_back(std::move(pair));
  }
  tokens.emplace_back(ClipTokenizer::kStartOfText);
  tokens.emplace_back(ClipTokenizer::kEndOfText);

  std::string vocab_json = "{\n";
  for (size_t id = 0; id < tokens.size(); ++id) {
    vocab_json += "  " + JsonString(tokens[id]) + ": " + std::to_string(id);
    vocab_json += id + 1 < tokens.size() ? ",\n" : "\n";
  }
  vocab_json += "}\n";
  std::string merges_txt = "#version: 0.2\n";
  for (const Pair& pair : merges) merges_txt += pair.first + " " + pair.second + "\n";

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable(dir + ": cannot create directory: " + ec.message());
  FARM_RETURN_IF_ERROR(WriteFile(std::filesystem::path(dir) / "vocab.json", vocab_json));
  return WriteFile(std::filesystem::path(dir) / "merges.txt", merges_txt);
}

}  // namespace farm::sd
