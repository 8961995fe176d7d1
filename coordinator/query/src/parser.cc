// ParseExpression(): recursive descent over Tokenize()'s tokens (grammar in expression.h).
#include <string>
#include <utility>

#include "farm/query/expression.h"
#include "text_util.h"

namespace farm::query {
namespace {

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd: return "the end of the expression";
    case TokenKind::kString: return "the string '" + token.text + "'";
    case TokenKind::kInteger:
    case TokenKind::kReal: return "the number " + token.text;
    default: return "'" + token.text + "'";
  }
}

// Thrown nowhere: the parser stops at the first error and unwinds by return values.
class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens)
      : text_(text), tokens_(std::move(tokens)) {}

  ParseResult Run() {
    ParseResult result;
    if (!ParseOr(result.expr)) {
      result.ok = false;
      result.error = error_;
      return result;
    }
    const Token& next = Peek();
    if (next.kind != TokenKind::kEnd) {
      result.ok = false;
      if (next.kind == TokenKind::kRightParen) {
        result.error = {"unbalanced ')': there is no '(' for it to close", next.offset, 1};
      } else {
        std::string message = "unexpected " + Describe(next) +
                              " after a complete condition; join conditions with AND or OR";
        if (next.kind == TokenKind::kIdentifier) {
          const std::string keyword = ClosestMatch(next.text, {"AND", "OR"});
          if (!keyword.empty()) message += " (did you mean " + keyword + "?)";
        }
        result.error = {std::move(message), next.offset, std::max<std::size_t>(next.length, 1)};
      }
    }
    return result;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Take() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool At(TokenKind kind) const { return Peek().kind == kind; }

  bool Fail(std::string message, const Token& token) {
    error_ = {std::move(message), token.offset, std::max<std::size_t>(token.length, 1)};
    return false;
  }

  // Depth counts '(' and NOT: each may recurse once more.
  bool Enter(const Token& token) {
    if (++depth_ > kMaxNesting) {
      return Fail("the expression nests deeper than " + std::to_string(kMaxNesting) +
                      " levels of parentheses and NOT",
                  token);
    }
    return true;
  }

  bool ParseOr(Expr& out) {
    Expr first;
    if (!ParseAnd(first)) return false;
    if (!At(TokenKind::kOr)) {
      out = std::move(first);
      return true;
    }
    out = Expr();
    out.kind = Expr::Kind::kOr;
    out.children.push_back(std::move(first));
    while (At(TokenKind::kOr)) {
      Take();
      Expr next;
      if (!ParseAnd(next)) return false;
      out.children.push_back(std::move(next));
    }
    return true;
  }

  bool ParseAnd(Expr& out) {
    Expr first;
    if (!ParseNot(first)) return false;
    if (!At(TokenKind::kAnd)) {
      out = std::move(first);
      return true;
    }
    out = Expr();
    out.kind = Expr::Kind::kAnd;
    out.children.push_back(std::move(first));
    while (At(TokenKind::kAnd)) {
      Take();
      Expr next;
      if (!ParseNot(next)) return false;
      out.children.push_back(std::move(next));
    }
    return true;
  }

  bool ParseNot(Expr& out) {
    if (!At(TokenKind::kNot)) return ParsePrimary(out);
    const Token& not_token = Take();
    if (!Enter(not_token)) return false;
    Expr inner;
    if (!ParseNot(inner)) return false;
    --depth_;
    out = Expr();
    out.kind = Expr::Kind::kNot;
    out.children.push_back(std::move(inner));
    return true;
  }

  bool ParsePrimary(Expr& out) {
    const Token& token = Peek();
    switch (token.kind) {
      case TokenKind::kLeftParen: {
        Take();
        if (!Enter(token)) return false;
        if (!ParseOr(out)) return false;
        --depth_;
        if (!At(TokenKind::kRightParen)) {
          return Fail("expected ')' to close the '(' at column " +
                          std::to_string(DisplayWidth(text_.substr(0, token.offset)) + 1) +
                          ", found " + Describe(Peek()),
                      Peek());
        }
        Take();
        return true;
      }
      case TokenKind::kIdentifier: return ParseCondition(out);
      case TokenKind::kEnd:
        return Fail(pos_ == 0 ? "the expression is empty; expected a condition like cfg >= 6"
                              : "the expression ends early; expected a condition like cfg >= 6",
                    token);
      case TokenKind::kInteger:
      case TokenKind::kReal:
      case TokenKind::kString:
      case TokenKind::kTrue:
      case TokenKind::kFalse:
        return Fail("expected a column name before " + Describe(token) +
                        "; conditions read column op value, e.g. cfg >= 6",
                    token);
      default:
        return Fail("expected a column name or '(', found " + Describe(token), token);
    }
  }

  bool ParseCondition(Expr& out) {
    const Token& column = Take();
    out = Expr();
    out.column = column.text;
    out.column_offset = column.offset;
    out.column_length = column.length;
    const Token& next = Peek();
    switch (next.kind) {
      case TokenKind::kOperator: {
        Take();
        out.kind = Expr::Kind::kCompare;
        out.op = next.text;
        out.op_offset = next.offset;
        out.op_length = next.length;
        Literal value;
        if (!ParseValue(value, "after '" + std::string(text_.substr(next.offset, next.length)) + "'")) {
          return false;
        }
        out.values.push_back(std::move(value));
        return true;
      }
      case TokenKind::kNot: {
        Take();
        out.negated = true;
        if (At(TokenKind::kIn)) return ParseIn(out);
        if (At(TokenKind::kLike)) return ParseLike(out);
        return Fail("expected IN or LIKE after NOT, found " + Describe(Peek()), Peek());
      }
      case TokenKind::kIn: return ParseIn(out);
      case TokenKind::kLike: return ParseLike(out);
      case TokenKind::kIs: {
        Take();
        out.kind = Expr::Kind::kIsNull;
        out.op_offset = next.offset;
        out.op_length = next.length;
        if (At(TokenKind::kNot)) {
          Take();
          out.negated = true;
        }
        if (!At(TokenKind::kNull)) {
          return Fail("expected NULL after IS" + std::string(out.negated ? " NOT" : "") +
                          ", found " + Describe(Peek()) + "; IS only tests for NULL",
                      Peek());
        }
        Take();
        return true;
      }
      default:
        return Fail("expected a comparison after '" + column.text +
                        "' (=, !=, <, <=, >, >=, IN, LIKE or IS NULL), found " + Describe(next),
                    next);
    }
  }

  bool ParseIn(Expr& out) {
    const Token& in = Take();
    out.kind = Expr::Kind::kIn;
    out.op_offset = in.offset;
    out.op_length = in.length;
    if (!At(TokenKind::kLeftParen)) {
      return Fail("expected '(' after IN, e.g. pose IN ('front', 'three_quarter')", Peek());
    }
    Take();
    if (At(TokenKind::kRightParen)) {
      return Fail("empty IN list; give at least one value", Peek());
    }
    while (true) {
      Literal value;
      if (!ParseValue(value, "in the IN list")) return false;
      out.values.push_back(std::move(value));
      if (At(TokenKind::kComma)) {
        Take();
        continue;
      }
      if (At(TokenKind::kRightParen)) {
        Take();
        return true;
      }
      return Fail("expected ',' or ')' in the IN list, found " + Describe(Peek()), Peek());
    }
  }

  bool ParseLike(Expr& out) {
    const Token& like = Take();
    out.kind = Expr::Kind::kLike;
    out.op_offset = like.offset;
    out.op_length = like.length;
    if (!At(TokenKind::kString)) {
      return Fail("LIKE needs a quoted pattern, e.g. sampler LIKE 'DPM%', found " +
                      Describe(Peek()),
                  Peek());
    }
    Literal value;
    ParseValue(value, "");
    out.values.push_back(std::move(value));
    return true;
  }

  bool ParseValue(Literal& value, const std::string& where) {
    const Token& token = Peek();
    value.offset = token.offset;
    value.length = token.length;
    switch (token.kind) {
      case TokenKind::kInteger:
        value.kind = Literal::Kind::kInteger;
        value.integer = token.integer;
        value.text = token.text;
        break;
      case TokenKind::kReal:
        value.kind = Literal::Kind::kReal;
        value.real = token.real;
        value.text = token.text;
        break;
      case TokenKind::kString:
        value.kind = Literal::Kind::kString;
        value.text = token.text;
        break;
      case TokenKind::kTrue:
      case TokenKind::kFalse:
        value.kind = Literal::Kind::kBool;
        value.integer = token.kind == TokenKind::kTrue ? 1 : 0;
        break;
      case TokenKind::kNull:
        return Fail("NULL is not a value to compare with; write IS NULL or IS NOT NULL", token);
      case TokenKind::kIdentifier:
        return Fail("expected a value " + where + ", found the name '" + token.text +
                        "'; quote text values: '" + token.text + "'",
                    token);
      default:
        return Fail("expected a value (a number, a quoted string, TRUE or FALSE) " + where +
                        ", found " + Describe(token),
                    token);
    }
    Take();
    return true;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  QueryError error_;
};

bool IsBlank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

ParseResult ParseExpression(std::string_view text) {
  ParseResult result;
  if (text.size() > kMaxExpressionBytes) {
    result.ok = false;
    result.error = {"the expression is too long: " + std::to_string(text.size()) +
                        " bytes; the limit is " + std::to_string(kMaxExpressionBytes),
                    kMaxExpressionBytes, 1};
    return result;
  }
  if (IsBlank(text)) {
    result.ok = false;
    result.error = {"the expression is empty; expected a condition like cfg >= 6", 0, 1};
    return result;
  }
  LexResult lexed = Tokenize(text);
  result = Parser(text, std::move(lexed.tokens)).Run();
  // The leftmost problem wins: a parse error before the bad character, else the lexer's.
  if (!lexed.ok && (result.ok || result.error.offset >= lexed.error.offset)) {
    result.ok = false;
    result.expr = Expr();
    result.error = lexed.error;
  }
  return result;
}

}  // namespace farm::query
