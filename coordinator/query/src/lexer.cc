// Tokenize(): the filter language's tokens with their byte offsets.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "farm/query/expression.h"
#include "text_util.h"

namespace farm::query {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct Keyword {
  const char* word;
  TokenKind kind;
};
constexpr Keyword kKeywords[] = {
    {"and", TokenKind::kAnd},   {"or", TokenKind::kOr},     {"not", TokenKind::kNot},
    {"in", TokenKind::kIn},     {"like", TokenKind::kLike}, {"is", TokenKind::kIs},
    {"null", TokenKind::kNull}, {"true", TokenKind::kTrue}, {"false", TokenKind::kFalse},
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  LexResult Run() {
    LexResult result;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) break;
      Token token;
      if (!Next(token)) {
        // The tokens before the problem stay, closed by kEnd at it: the parser reports an
        // error further left first.
        result.ok = false;
        result.error = error_;
        break;
      }
      result.tokens.push_back(std::move(token));
    }
    Token end;
    end.kind = TokenKind::kEnd;
    end.offset = result.ok ? text_.size() : result.error.offset;
    end.length = 0;
    result.tokens.push_back(end);
    return result;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Fail(std::string message, std::size_t offset, std::size_t length) {
    error_ = {std::move(message), offset, length};
    return false;
  }

  bool Next(Token& token) {
    const char c = text_[pos_];
    token.offset = pos_;
    if (IsIdentStart(c)) return Identifier(token);
    if (IsDigit(c) || (c == '-' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) {
      return Number(token);
    }
    if (c == '\'' || c == '"') return String(token);
    switch (c) {
      case '(': return Single(token, TokenKind::kLeftParen);
      case ')': return Single(token, TokenKind::kRightParen);
      case ',': return Single(token, TokenKind::kComma);
      case '=': return Operator(token, Peek(1) == '=' ? 2 : 1, "=");
      case '<':
        if (Peek(1) == '=') return Operator(token, 2, "<=");
        if (Peek(1) == '>') return Operator(token, 2, "<>");
        return Operator(token, 1, "<");
      case '>': return Operator(token, Peek(1) == '=' ? 2 : 1, Peek(1) == '=' ? ">=" : ">");
      case '!':
        if (Peek(1) == '=') return Operator(token, 2, "<>");
        return Fail("unexpected character '!'; write != or NOT", pos_, 1);
      default: break;
    }
    return Unexpected();
  }

  char Peek(std::size_t ahead) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  bool Single(Token& token, TokenKind kind) {
    token.kind = kind;
    token.length = 1;
    token.text = std::string(1, text_[pos_]);
    ++pos_;
    return true;
  }

  bool Operator(Token& token, std::size_t length, const char* op) {
    token.kind = TokenKind::kOperator;
    token.length = length;
    token.text = op;
    pos_ += length;
    return true;
  }

  bool Unexpected() {
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c == 0) return Fail("NUL byte in the expression", pos_, 1);
    if (c >= 0x80) {
      const std::size_t length = Utf8SequenceLength(text_, pos_);
      return Fail("unexpected character '" + std::string(text_.substr(pos_, length)) +
                      "'; only quoted strings may hold text outside ASCII",
                  pos_, length);
    }
    if (c == ';') {
      return Fail("unexpected character ';': the filter is one expression, not statements",
                  pos_, 1);
    }
    if (c == '-' && Peek(1) == '-') {
      return Fail("unexpected '--': comments are not part of the filter language", pos_, 2);
    }
    if (c < 0x20 || c == 0x7f) {
      return Fail("unexpected control character " + HexByte(c), pos_, 1);
    }
    return Fail("unexpected character '" + std::string(1, static_cast<char>(c)) +
                    "'; expected a column, a value, an operator or a parenthesis",
                pos_, 1);
  }

  bool Identifier(Token& token) {
    std::size_t end = pos_;
    bool dotted = false;
    while (end < text_.size() && IsIdentChar(text_[end])) ++end;
    // Paths into params: params.stages[0].kind
    while (end < text_.size() && (text_[end] == '.' || text_[end] == '[')) {
      dotted = true;
      if (text_[end] == '.') {
        if (end + 1 >= text_.size() || !IsIdentStart(text_[end + 1])) {
          return Fail("expected a name after '.' in '" +
                          std::string(text_.substr(pos_, end + 1 - pos_)) + "'",
                      end, 1);
        }
        ++end;
        while (end < text_.size() && IsIdentChar(text_[end])) ++end;
      } else {
        std::size_t digits = end + 1;
        while (digits < text_.size() && IsDigit(text_[digits])) ++digits;
        if (digits == end + 1 || digits >= text_.size() || text_[digits] != ']' ||
            digits - end - 1 > 9) {
          return Fail("expected an array index like [0] in '" +
                          std::string(text_.substr(pos_, end + 1 - pos_)) + "'",
                      end, 1);
        }
        end = digits + 1;
      }
    }
    if (end < text_.size() && static_cast<unsigned char>(text_[end]) >= 0x80) {
      // "café": name the whole word, point at the character.
      std::size_t word_end = end;
      while (word_end < text_.size() && (IsIdentChar(text_[word_end]) ||
                                         static_cast<unsigned char>(text_[word_end]) >= 0x80)) {
        ++word_end;
      }
      const std::size_t length = Utf8SequenceLength(text_, end);
      return Fail("unexpected character '" + std::string(text_.substr(end, length)) + "' in '" +
                      std::string(text_.substr(pos_, word_end - pos_)) +
                      "'; only quoted strings may hold text outside ASCII",
                  end, length);
    }
    token.kind = TokenKind::kIdentifier;
    token.length = end - pos_;
    token.text = std::string(text_.substr(pos_, token.length));
    pos_ = end;
    if (!dotted) {
      const std::string lower = ToLower(token.text);
      for (const Keyword& keyword : kKeywords) {
        if (lower == keyword.word) token.kind = keyword.kind;
      }
    }
    return true;
  }

  bool Number(Token& token) {
    std::size_t end = pos_;
    if (text_[end] == '-') ++end;
    while (end < text_.size() && IsDigit(text_[end])) ++end;
    bool real = false;
    if (end < text_.size() && text_[end] == '.') {
      real = true;
      ++end;
      const std::size_t fraction = end;
      while (end < text_.size() && IsDigit(text_[end])) ++end;
      if (end == fraction) {
        return Fail("malformed number: expected digits after '.'", pos_, end - pos_);
      }
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      real = true;
      ++end;
      if (end < text_.size() && (text_[end] == '+' || text_[end] == '-')) ++end;
      const std::size_t exponent = end;
      while (end < text_.size() && IsDigit(text_[end])) ++end;
      if (end == exponent) {
        return Fail("malformed number: expected digits in the exponent", pos_, end - pos_);
      }
    }
    if (end < text_.size() && (IsIdentChar(text_[end]) || text_[end] == '.')) {
      std::size_t bad = end;
      while (bad < text_.size() && (IsIdentChar(text_[bad]) || text_[bad] == '.')) ++bad;
      return Fail("malformed number '" + std::string(text_.substr(pos_, bad - pos_)) +
                      "'; quote text values",
                  pos_, bad - pos_);
    }
    token.length = end - pos_;
    token.text = std::string(text_.substr(pos_, token.length));
    errno = 0;
    char* parsed_end = nullptr;
    if (real) {
      token.kind = TokenKind::kReal;
      token.real = std::strtod(token.text.c_str(), &parsed_end);
      if (errno == ERANGE && std::isinf(token.real)) {
        return Fail("number " + token.text + " is out of range", pos_, token.length);
      }
    } else {
      token.kind = TokenKind::kInteger;
      token.integer = std::strtoll(token.text.c_str(), &parsed_end, 10);
      if (errno == ERANGE) {
        return Fail("number " + token.text +
                        " is out of range (integers are 64-bit: at most 9223372036854775807)",
                    pos_, token.length);
      }
    }
    pos_ = end;
    return true;
  }

  bool String(Token& token) {
    const char quote = text_[pos_];
    std::string value;
    std::size_t i = pos_ + 1;
    while (true) {
      if (i >= text_.size()) {
        return Fail(std::string("unterminated string: no closing ") + quote +
                        " for the quote here",
                    pos_, 1);
      }
      const char c = text_[i];
      if (c == '\0') return Fail("NUL byte in the expression", i, 1);
      if (c == quote) {
        if (i + 1 < text_.size() && text_[i + 1] == quote) {
          value += quote;
          i += 2;
          continue;
        }
        break;
      }
      value += c;
      ++i;
    }
    token.kind = TokenKind::kString;
    token.length = i + 1 - pos_;
    token.text = std::move(value);
    pos_ = i + 1;
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  QueryError error_;
};

}  // namespace

LexResult Tokenize(std::string_view text) { return Lexer(text).Run(); }

}  // namespace farm::query
