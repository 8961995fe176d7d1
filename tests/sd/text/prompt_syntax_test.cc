// Attention syntax and extra-network tags, pinned to A1111's documented examples.
#include <gtest/gtest.h>

#include "farm/sd/prompt.h"

namespace farm::sd {
namespace {

struct Expected {
  std::string text;
  double weight;
};

void ExpectFragments(const std::string& prompt, const std::vector<Expected>& expected) {
  auto parsed = ParsePromptAttention(prompt);
  ASSERT_TRUE(parsed.ok()) << prompt << ": " << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), expected.size()) << prompt;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*parsed)[i].text, expected[i].text) << prompt << " fragment " << i;
    EXPECT_DOUBLE_EQ((*parsed)[i].weight, expected[i].weight) << prompt << " fragment " << i;
    EXPECT_FALSE((*parsed)[i].is_break) << prompt << " fragment " << i;
  }
}

TEST(PromptAttentionTest, A1111DocumentedExamples) {
  ExpectFragments("normal text", {{"normal text", 1.0}});
  ExpectFragments("an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
  ExpectFragments("(unbalanced", {{"unbalanced", 1.1}});
  ExpectFragments("\\(literal\\]", {{"(literal]", 1.0}});
  ExpectFragments("(unnecessary)(parens)", {{"unnecessaryparens", 1.1}});
  ExpectFragments("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                  {{"a ", 1.0},
                   {"house", 1.5730000000000004},
                   {" ", 1.1},
                   {"on", 1.0},
                   {" a ", 1.1},
                   {"hill", 0.55},
                   {", sun, ", 1.1},
                   {"sky", 1.4641000000000006},
                   {".", 1.1}});
}

TEST(PromptAttentionTest, WeightsNestAndMultiply) {
  ExpectFragments("a (b:1.5) c", {{"a ", 1.0}, {"b", 1.5}, {" c", 1.0}});
  ExpectFragments("((a))", {{"a", 1.1 * 1.1}});
  ExpectFragments("[a]", {{"a", 1 / 1.1}});
  ExpectFragments("[[a]] b", {{"a", (1 / 1.1) * (1 / 1.1)}, {" b", 1.0}});
  ExpectFragments("((a:2))", {{"a", 2.0 * 1.1}});
  ExpectFragments("(a : 1.2 )", {{"a ", 1.2}});
  ExpectFragments("(a:.5)(b:-1)", {{"a", 0.5}, {"b", -1.0}});
  ExpectFragments("", {{"", 1.0}});
  // Exactly A1111's product order: equal weights from different paths merge.
  auto parsed = ParsePromptAttention("((a)) ((b))");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)[0].weight, 1.2100000000000002);
}

TEST(PromptAttentionTest, EscapesAndUnbalancedBrackets) {
  ExpectFragments("\\(a\\)", {{"(a)", 1.0}});
  ExpectFragments("a \\\\ b", {{"a \\ b", 1.0}});
  ExpectFragments("a\\b", {{"ab", 1.0}});  // a lone backslash is dropped
  ExpectFragments("(a", {{"a", 1.1}});
  ExpectFragments("[a", {{"a", 1 / 1.1}});
  ExpectFragments("a) b]", {{"a) b]", 1.0}});
  ExpectFragments("a:1.2) b", {{"a:1.2) b", 1.0}});  // a weight without '(' is text
  ExpectFragments("a:b (c:d)", {{"a:b ", 1.0}, {"c:d", 1.1}});
}

TEST(PromptAttentionTest, BreakIsAMarker) {
  auto parsed = ParsePromptAttention("a BREAK b");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].text, "a");
  EXPECT_TRUE((*parsed)[1].is_break);
  EXPECT_EQ((*parsed)[1].text, "BREAK");
  EXPECT_EQ((*parsed)[2].text, "b");
  EXPECT_FALSE((*parsed)[2].is_break);

  ExpectFragments("aBREAK b BREAKS breaks", {{"aBREAK b BREAKS breaks", 1.0}});

  auto punctuated = ParsePromptAttention("a,BREAK\nb");
  ASSERT_TRUE(punctuated.ok());
  ASSERT_EQ(punctuated->size(), 3u);
  EXPECT_EQ((*punctuated)[0].text, "a,");
  EXPECT_TRUE((*punctuated)[1].is_break);

  // A1111 multiplies the BREAK entry inside brackets too; it is then the word "BREAK".
  auto inside = ParsePromptAttention("(a BREAK b)");
  ASSERT_TRUE(inside.ok());
  ASSERT_EQ(inside->size(), 3u);
  EXPECT_EQ((*inside)[1].text, "BREAK");
  EXPECT_FALSE((*inside)[1].is_break);
  EXPECT_DOUBLE_EQ((*inside)[1].weight, -1.1);
}

TEST(PromptAttentionTest, BadWeightNamesTheColumn) {
  auto parsed = ParsePromptAttention("ab (c:1.2.3)");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("column 7"), std::string::npos) << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("1.2.3"), std::string::npos);
}

TEST(LoraTagsTest, ExtractsTagsAndLeavesTheRest) {
  auto result = ExtractLoraTags("a photo <lora:face:0.8>, smiling <lyco:style> <lora: my face : -0.5 >");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->prompt, "a photo , smiling  ");
  ASSERT_EQ(result->loras.size(), 3u);
  EXPECT_EQ(result->loras[0].name, "face");
  EXPECT_DOUBLE_EQ(result->loras[0].weight, 0.8);
  EXPECT_EQ(result->loras[1].name, "style");
  EXPECT_DOUBLE_EQ(result->loras[1].weight, 1.0);
  EXPECT_EQ(result->loras[2].name, "my face");
  EXPECT_DOUBLE_EQ(result->loras[2].weight, -0.5);
}

TEST(LoraTagsTest, TextThatIsNotATagStays) {
  for (const std::string prompt : {"I <3 cats", "<b>bold</b>", "a < b > c", "plain"}) {
    auto result = ExtractLoraTags(prompt);
    ASSERT_TRUE(result.ok()) << prompt;
    EXPECT_EQ(result->prompt, prompt);
    EXPECT_TRUE(result->loras.empty());
  }
}

TEST(LoraTagsTest, MalformedTagsGiveColumns) {
  const auto error_of = [](const std::string& prompt) {
    auto result = ExtractLoraTags(prompt);
    EXPECT_FALSE(result.ok()) << prompt;
    return result.ok() ? std::string() : result.status().message();
  };
  EXPECT_NE(error_of("a <lora:x:abc>").find("column 11"), std::string::npos);
  EXPECT_NE(error_of("\xC3\xA9 <lora:x:zz>").find("column 11"), std::string::npos);  // columns count characters
  EXPECT_NE(error_of("a <lora:x:0.5").find("column 3"), std::string::npos);
  EXPECT_NE(error_of("<lora::0.5>").find("empty name"), std::string::npos);
  EXPECT_NE(error_of("<lora:x:1:2>").find("column 11"), std::string::npos);
  EXPECT_NE(error_of("<hypernet:x:1>").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("<lora:a <lora:b:1>").find("column 9"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
