#include "farm/sd/json.h"

#include <gtest/gtest.h>

namespace farm::sd {
namespace {

TEST(JsonTest, ParsesNestedDocumentInOrder) {
  auto doc = Json::Parse(R"({"b": [1, 2.5, -3e2], "a": {"x": true, "y": null}, "s": "q\"\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  ASSERT_TRUE(doc->is_object());
  ASSERT_EQ(doc->members().size(), 3u);
  EXPECT_EQ(doc->members()[0].first, "b");
  const Json* b = doc->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->items()[0].AsInt64(), 1);
  EXPECT_EQ(b->items()[1].AsInt64(), std::nullopt);
  EXPECT_DOUBLE_EQ(b->items()[1].number(), 2.5);
  EXPECT_DOUBLE_EQ(b->items()[2].number(), -300.0);
  EXPECT_TRUE(doc->Find("a")->Find("x")->boolean());
  EXPECT_TRUE(doc->Find("a")->Find("y")->is_null());
  EXPECT_EQ(doc->Find("s")->text(), "q\"\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(doc->Find("missing"), nullptr);
}

TEST(JsonTest, LargeIntegersStayExact) {
  auto doc = Json::Parse("[9007199254740993, 9223372036854775807, 9223372036854775808]");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->items()[0].AsInt64(), 9007199254740993LL);
  EXPECT_EQ(doc->items()[1].AsInt64(), INT64_MAX);
  EXPECT_EQ(doc->items()[2].AsInt64(), std::nullopt);
}

TEST(JsonTest, ErrorsNameLineAndColumn) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"{\"a\": 1,\n \"a\": 2}", "line 2, column 2: duplicate key \"a\""},
      {"{\"a\" 1}", "line 1, column 6: expected ':' after a key"},
      {"[1, 2", "line 1, column 6: expected ',' or ']' in an array"},
      {"\"abc", "unterminated string"},
      {"[1] x", "line 1, column 5: expected the end of the document"},
      {"", "expected a value, found the end of the text"},
      {"-", "expected digits in a number"},
      {"\"\\x\"", "unknown escape sequence"},
      {"\"\\ud800\"", "expected a low surrogate after a high one"},
      {"{\"a\":\"b\nc\"}", "no control character"},
  };
  for (const auto& c : cases) {
    auto doc = Json::Parse(c.text);
    ASSERT_FALSE(doc.ok()) << c.text;
    EXPECT_NE(doc.status().message().find(c.message), std::string::npos)
        << c.text << " -> " << doc.status().message();
  }
}

TEST(JsonTest, RefusesDeepNesting) {
  std::string deep(65, '[');
  deep += std::string(65, ']');
  auto doc = Json::Parse(deep);
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("deeper than 64"), std::string::npos);
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(Json::Parse(ok).ok());
}

}  // namespace
}  // namespace farm::sd
