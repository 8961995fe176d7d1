#include "bpe_vocab_gz.h"

#include <zlib.h>

#include "byte_unicode.h"

namespace farm::sd {
namespace {

StatusOr<std::string> Gunzip(std::string_view gz, const std::string& name) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return Internal(name + ": zlib inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  stream.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buffer[1 << 16];
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    result = inflate(&stream, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) {
      const std::string why = result == Z_BUF_ERROR ? "truncated" : (stream.msg ? stream.msg : "inflate error");
      inflateEnd(&stream);
      return DataLoss(name + ": corrupt gzip data (" + why + "); expected openai CLIP's bpe_simple_vocab_16e6.txt.gz");
    }
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (out.size() > (size_t{64} << 20)) {
      inflateEnd(&stream);
      return DataLoss(name + ": more than 64 MiB uncompressed; not a BPE vocabulary");
    }
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace

StatusOr<BpeVocab> ParseBpeVocabGz(std::string_view gz_bytes, const std::string& name, size_t merge_count) {
  FARM_ASSIGN_OR_RETURN(std::string text, Gunzip(gz_bytes, name));
  BpeVocab vocab;
  const auto& byte_chars = ByteToUnicode();
  for (uint8_t byte : ByteVocabularyOrder()) vocab.tokens.push_back(byte_chars[byte]);
  for (uint8_t byte : ByteVocabularyOrder()) vocab.tokens.push_back(byte_chars[byte] + "</w>");
  // lines[1 : 1 + merge_count]: line 0 is the "#version" header.
  size_t start = text.find('\n');
  for (size_t line = 1; vocab.merges.size() < merge_count; ++line) {
    if (start == std::string::npos) {
      return DataLoss(name + ": " + std::to_string(line - 1) + " lines, expected a header and at least " +
                      std::to_string(merge_count) + " merges");
    }
    ++start;
    size_t end = text.find('\n', start);
    const std::string_view merge =
        std::string_view(text).substr(start, (end == std::string::npos ? text.size() : end) - start);
    const size_t space = merge.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == merge.size() ||
        merge.find(' ', space + 1) != std::string_view::npos) {
      return DataLoss(name + ": line " + std::to_string(line + 1) + ": expected two symbols separated by one space");
    }
    vocab.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
    vocab.tokens.push_back(vocab.merges.back().first + vocab.merges.back().second);
    start = end;
  }
  vocab.tokens.emplace_back("<|startoftext|>");
  vocab.tokens.emplace_back("<|endoftext|>");
  return vocab;
}

}  // namespace farm::sd
