// Hand-made CLIP vocabularies for the text tests: the 512 byte tokens in CLIP's order
// (built here independently of the library), the tokens of the given merges, and the two
// special tokens last.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace farm::sd::testing {

// CLIP's bytes_to_unicode for one byte, UTF-8 encoded.
inline std::string ByteChar(int byte) {
  const auto self = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; };
  int cp = byte;
  if (!self(byte)) {
    cp = 256;
    for (int b = 0; b < byte; ++b) cp += self(b) ? 0 : 1;
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

inline std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

struct TestVocab {
  std::string vocab_json;
  std::string merges_txt;
};

using MergeList = std::vector<std::pair<std::string, std::string>>;

inline TestVocab MakeTestVocab(const MergeList& merges, bool version_header = true) {
  std::vector<std::string> tokens;
  std::vector<int> order;
  for (int pass = 0; pass < 2; ++pass) {
    for (int b = 0; b < 256; ++b) {
      const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      if (self == (pass == 0)) order.push_back(b);
    }
  }
  for (int b : order) tokens.push_back(ByteChar(b));
  for (int b : order) tokens.push_back(ByteChar(b) + "</w>");
  TestVocab out;
  out.merges_txt = version_header ? "#version: 0.2\n" : "";
  for (const auto& [left, right] : merges) {
    tokens.push_back(left + right);
    out.merges_txt += left + " " + right + "\n";
  }
  tokens.push_back("<|startoftext|>");
  tokens.push_back("<|endoftext|>");
  out.vocab_json = "{";
  for (size_t id = 0; id < tokens.size(); ++id) {
    out.vocab_json += (id ? ", " : "") + JsonQuote(tokens[id]) + ": " + std::to_string(id);
  }
  out.vocab_json += "}";
  return out;
}

}  // namespace farm::sd::testing
