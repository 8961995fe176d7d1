#include "farm/sd/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "reference_paths.h"
#include "test_vocab.h"

namespace farm::sd {
namespace {

using testing::MakeTestVocab;
using testing::MergeList;
using Tokens = std::vector<std::string>;

ClipTokenizer MakeTokenizer(const MergeList& merges) {
  const testing::TestVocab vocab = MakeTestVocab(merges);
  auto tokenizer = ClipTokenizer::FromText(vocab.vocab_json, vocab.merges_txt);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  return std::move(tokenizer).value();
}

TEST(ClipTokenizerTest, MergesApplyLowestRankFirst) {
  // "abcd" -> a b c d</w>; whichever merge ranks first decides the split.
  EXPECT_EQ(MakeTokenizer({{"b", "c"}, {"a", "b"}}).EncodeToTokens("abcd"), (Tokens{"a", "bc", "d</w>"}));
  EXPECT_EQ(MakeTokenizer({{"a", "b"}, {"b", "c"}}).EncodeToTokens("abcd"), (Tokens{"ab", "c", "d</w>"}));
}

TEST(ClipTokenizerTest, MergesChainIntoWholeWordAndIdsComeFromVocab) {
  const ClipTokenizer tokenizer =
      MakeTokenizer({{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o</w>"}, {"w", "o"}});
  EXPECT_EQ(tokenizer.EncodeToTokens("hello"), (Tokens{"hello</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("world"), (Tokens{"wo", "r", "l", "d</w>"}));
  const std::vector<int64_t> ids = tokenizer.Encode("hello");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], *tokenizer.TokenId("hello</w>"));
  EXPECT_EQ(ids[0], 512 + 3);  // the fourth merge's token
  EXPECT_EQ(tokenizer.merge_count(), 5u);
  // A repeated pair merges at every non-overlapping position, left to right.
  EXPECT_EQ(tokenizer.EncodeToTokens("lll"), (Tokens{"ll", "l</w>"}));
}

TEST(ClipTokenizerTest, EndOfWordMarkerOnlyOnTheLastSymbol) {
  const ClipTokenizer tokenizer = MakeTokenizer({{"a", "b</w>"}});
  EXPECT_EQ(tokenizer.EncodeToTokens("ab"), (Tokens{"ab</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("abab"), (Tokens{"a", "b", "ab</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("ab ab"), (Tokens{"ab</w>", "ab</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("a"), (Tokens{"a</w>"}));
}

TEST(ClipTokenizerTest, SplitsPunctuationContractionsAndDigits) {
  const ClipTokenizer tokenizer = MakeTokenizer({});
  EXPECT_EQ(tokenizer.EncodeToTokens("hi!!"), (Tokens{"h", "i</w>", "!", "!</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("a,b"), (Tokens{"a</w>", ",</w>", "b</w>"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("it's"), (Tokens{"i", "t</w>", "'", "s</w>"}));
  EXPECT_EQ(ClipTokenizer::PreTokenize("we're here'll"), (Tokens{"we", "'re", "here", "'ll"}));
  EXPECT_EQ(ClipTokenizer::PreTokenize("!'s"), (Tokens{"!'", "s"}));  // punctuation run first
  EXPECT_EQ(ClipTokenizer::PreTokenize("123 a1b"), (Tokens{"1", "2", "3", "a", "1", "b"}));
  EXPECT_EQ(ClipTokenizer::PreTokenize("(red:1.2)"), (Tokens{"(", "red", ":", "1", ".", "2", ")"}));
  EXPECT_EQ(tokenizer.EncodeToTokens("42"), (Tokens{"4</w>", "2</w>"}));
}

TEST(ClipTokenizerTest, FoldsCaseAndCleansText) {
  const ClipTokenizer tokenizer = MakeTokenizer({});
  EXPECT_EQ(tokenizer.Encode("HeLLo WORLD"), tokenizer.Encode("hello world"));
  EXPECT_EQ(ClipTokenizer::Normalize("  A \t\n B  "), "a b");
  EXPECT_EQ(ClipTokenizer::Normalize("\xC3\x80\xC3\x89\xC3\x9F"), "\xC3\xA0\xC3\xA9\xC3\x9F");  // ÀÉß
  EXPECT_EQ(ClipTokenizer::Normalize("\xD0\x9F\xCE\xA3"), "\xD0\xBF\xCF\x82");  // ПΣ: final sigma ς
  EXPECT_EQ(ClipTokenizer::Normalize("\xCE\xA3\xCE\x91"), "\xCF\x83\xCE\xB1");  // ΣΑ: σ inside a word
  EXPECT_EQ(ClipTokenizer::Normalize("fish &amp; chips &#39;x&#x27;"), "fish & chips 'x'");
  // ftfy leaves a line with '<' alone, but html.unescape after it still decodes entities.
  EXPECT_EQ(ClipTokenizer::Normalize("<b> &amp;amp; &amp"), "<b> & &");
  EXPECT_EQ(ClipTokenizer::Normalize("\xE2\x80\x9CHi\xE2\x80\x9D \xE2\x80\x99"), "\"hi\" '");
  EXPECT_EQ(ClipTokenizer::Normalize("\xEF\xAC\x81ne \xEF\xBC\xA1"), "fine a");  // ligature, full width
  // Letters outside ASCII stay one word; superscript two is a number.
  EXPECT_EQ(ClipTokenizer::PreTokenize("caf\xC3\xA9 x\xC2\xB2"), (Tokens{"caf\xC3\xA9", "x", "\xC2\xB2"}));
}

TEST(ClipTokenizerTest, CleansTextLikeOpenaiBasicClean) {
  // HTML: ftfy's all-caps entity forms, then html.unescape's legacy names and numeric rules.
  EXPECT_EQ(ClipTokenizer::Normalize("&EACUTE; &notes &#x80; &amp"), "\xC3\xA9 \xC2\xAC" "es \xE2\x82\xAC &");
  // Terminal escapes and control characters go; a C1 NEL becomes Windows-1252's ellipsis.
  EXPECT_EQ(ClipTokenizer::Normalize("a\x1B[1mb\x07" "c \xC2\x85" "d"), "abc \xE2\x80\xA6" "d");
  // NFD accents compose (NFC); half-width katakana widen.
  EXPECT_EQ(ClipTokenizer::Normalize("e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(ClipTokenizer::Normalize("\xEF\xBD\xB1"), "\xE3\x82\xA2");
  // Special casing: İ lower-cases to i + U+0307, which then splits the word.
  EXPECT_EQ(ClipTokenizer::Normalize("\xC4\xB0stanbul"), "i\xCC\x87stanbul");
  EXPECT_EQ(ClipTokenizer::PreTokenize("i\xCC\x87stanbul"), (Tokens{"i", "\xCC\x87", "stanbul"}));
  // IGNORECASE: the long s matches the contraction 's.
  EXPECT_EQ(ClipTokenizer::PreTokenize("it'\xC5\xBF"), (Tokens{"it", "'\xC5\xBF"}));
}

TEST(ClipTokenizerTest, MojibakeRepairCoversUtf8ReadAsWindows1252Only) {
  EXPECT_EQ(ClipTokenizer::Normalize("caf\xC3\x83\xC2\xA9 don\xC3\xA2\xE2\x82\xAC\xE2\x84\xA2t"), "caf\xC3\xA9 don't");
  EXPECT_EQ(ClipTokenizer::Normalize("\xC3\xB0\xC5\xB8\xCB\x9C\xE2\x82\xAC"), "\xF0\x9F\x98\x80");  // an emoji
  // Text that only looks close is left: a lone Ã, and Latin-1 accents that are not UTF-8.
  EXPECT_EQ(ClipTokenizer::Normalize("S\xC3\x83O caf\xC3\xA9"), "s\xC3\xA3o caf\xC3\xA9");
  // Documented difference: UTF-8 read as Windows-1251 (ftfy repairs it) stays as written,
  // lower-cased, its U+201A uncurled like any quote.
  EXPECT_EQ(ClipTokenizer::Normalize("\xD0\xA0\xD1\x9F\xD0\xA1\xE2\x80\x9A"), "\xD1\x80\xD1\x9F\xD1\x81'");
}

TEST(ClipTokenizerTest, BytesWithoutMergesBecomeByteTokens) {
  const ClipTokenizer tokenizer = MakeTokenizer({});
  // é = C3 A9: both bytes print as themselves in bytes_to_unicode.
  EXPECT_EQ(tokenizer.EncodeToTokens("\xC3\xA9"), (Tokens{"\xC3\x83", "\xC2\xA9</w>"}));
  // U+1F642 = F0 9F 99 82; 9F, 99 and 82 are shifted to U+0141, U+013B, U+0124.
  EXPECT_EQ(tokenizer.EncodeToTokens("\xF0\x9F\x99\x82"),
            (Tokens{"\xC3\xB0", "\xC5\x81", "\xC4\xBB", "\xC4\xA4</w>"}));
  for (int64_t id : tokenizer.Encode("\xF0\x9F\x99\x82 \xE4\xB8\xAD")) {
    EXPECT_LT(id, 512);  // every piece is a byte token, none falls back to unk
  }
  // Invalid UTF-8 reads as U+FFFD (EF BF BD), as Python's errors="replace" decoding would.
  EXPECT_EQ(tokenizer.EncodeToTokens("\xFF"), (Tokens{"\xC3\xAF", "\xC2\xBF", "\xC2\xBD</w>"}));
}

TEST(ClipTokenizerTest, SpecialTokensAndUnknownTokens) {
  const ClipTokenizer tokenizer = MakeTokenizer({});
  EXPECT_EQ(tokenizer.bos_id(), 512);
  EXPECT_EQ(tokenizer.eos_id(), 513);
  EXPECT_EQ(tokenizer.vocab_size(), 514);
  EXPECT_EQ(tokenizer.Encode("<|startoftext|>a<|endoftext|>"),
            (std::vector<int64_t>{512, *tokenizer.TokenId("a</w>"), 513}));
  ASSERT_TRUE(tokenizer.comma_id().has_value());
  EXPECT_EQ(*tokenizer.comma_id(), *tokenizer.TokenId(",</w>"));

  auto small = ClipTokenizer::FromText(R"({"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2})", "");
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->Encode("a b"), (std::vector<int64_t>{0, 2}));  // unknown -> <|endoftext|>
  EXPECT_FALSE(small->comma_id().has_value());
}

TEST(ClipTokenizerTest, EncodePaddedAndDecode) {
  const ClipTokenizer tokenizer = MakeTokenizer({{"h", "i</w>"}});
  const std::vector<int64_t> padded = tokenizer.EncodePadded("hi a", 77);
  ASSERT_EQ(padded.size(), 77u);
  EXPECT_EQ(padded[0], tokenizer.bos_id());
  EXPECT_EQ(padded[1], *tokenizer.TokenId("hi</w>"));
  EXPECT_EQ(padded[2], *tokenizer.TokenId("a</w>"));
  for (size_t i = 3; i < padded.size(); ++i) EXPECT_EQ(padded[i], tokenizer.eos_id());

  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "a ";
  const std::vector<int64_t> truncated = tokenizer.EncodePadded(long_text, 77);
  ASSERT_EQ(truncated.size(), 77u);
  EXPECT_EQ(truncated[75], *tokenizer.TokenId("a</w>"));
  EXPECT_EQ(truncated[76], tokenizer.eos_id());

  auto text = tokenizer.Decode(tokenizer.Encode("Hi, world! it's 42 \xC3\xA9"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hi , world ! it 's 4 2 \xC3\xA9");
  EXPECT_FALSE(tokenizer.Decode({100000}).ok());
}

TEST(ClipTokenizerTest, VersionHeaderIsOptional) {
  const testing::TestVocab with = MakeTestVocab({{"a", "b"}}, true);
  const testing::TestVocab without = MakeTestVocab({{"a", "b"}}, false);
  auto a = ClipTokenizer::FromText(with.vocab_json, with.merges_txt);
  auto b = ClipTokenizer::FromText(without.vocab_json, without.merges_txt + "\r\n\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->merge_count(), 1u);
  EXPECT_EQ(b->merge_count(), 1u);
  EXPECT_EQ(a->Encode("abc"), b->Encode("abc"));
}

TEST(ClipTokenizerTest, LoadErrorsNameTheFileAndLine) {
  const testing::TestVocab vocab = MakeTestVocab({});
  auto bad_merge = ClipTokenizer::FromText(vocab.vocab_json, "#version: 0.2\na b\na b c\n");
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_NE(bad_merge.status().message().find("merges.txt: line 3"), std::string::npos)
      << bad_merge.status().message();

  auto not_object = ClipTokenizer::FromText("[1, 2]", "");
  ASSERT_FALSE(not_object.ok());
  EXPECT_NE(not_object.status().message().find("vocab.json"), std::string::npos);

  auto syntax = ClipTokenizer::FromText("{\n\"a\": 0,\n\"b\": }", "");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("line 3"), std::string::npos) << syntax.status().message();

  auto no_eos = ClipTokenizer::FromText(R"({"a": 0, "<|startoftext|>": 1})", "");
  ASSERT_FALSE(no_eos.ok());
  EXPECT_NE(no_eos.status().message().find("<|endoftext|>"), std::string::npos);

  auto bad_id = ClipTokenizer::FromText(R"({"a": -1, "<|startoftext|>": 1, "<|endoftext|>": 2})", "");
  EXPECT_FALSE(bad_id.ok());
  auto shared_id = ClipTokenizer::FromText(R"({"a": 1, "<|startoftext|>": 1, "<|endoftext|>": 2})", "");
  EXPECT_FALSE(shared_id.ok());

  auto missing = ClipTokenizer::LoadFromDir(testing::ScratchDir() + "/no-such-tokenizer");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no-such-tokenizer/vocab.json"), std::string::npos);
}

TEST(ClipTokenizerTest, LoadsFromFiles) {
  const testing::TestVocab vocab = MakeTestVocab({{"h", "i</w>"}});
  const std::string dir = testing::ScratchDir() + "/tokenizer";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/vocab.json") << vocab.vocab_json;
  std::ofstream(dir + "/merges.txt") << vocab.merges_txt;
  auto tokenizer = ClipTokenizer::LoadFromDir(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  EXPECT_EQ(tokenizer->Encode("hi"), (std::vector<int64_t>{512}));
  // Copies share the cache and give the same answers.
  const ClipTokenizer copy = *tokenizer;
  EXPECT_EQ(copy.Encode("hi hi"), (std::vector<int64_t>{512, 512}));
}

}  // namespace
}  // namespace farm::sd
