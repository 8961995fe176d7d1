// PNG text chunks at the byte level: tEXt / zTXt / iTXt reading, keyword rules, chunk
// placement and CRCs, malformed chunks.
#include "farm/image/png_text.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "farm/image/png_io.h"

namespace farm::image {
namespace {

std::string BigEndian(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string Chunk(const std::string& type, const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type.data()), 4);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return BigEndian(static_cast<uint32_t>(data.size())) + type + data +
         BigEndian(static_cast<uint32_t>(crc));
}

std::string Deflate(const std::string& text) {
  uLongf size = compressBound(text.size());
  std::string out(size, '\0');
  compress(reinterpret_cast<Bytef*>(out.data()), &size,
           reinterpret_cast<const Bytef*>(text.data()), text.size());
  out.resize(size);
  return out;
}

std::string PlainPng() { return EncodePng(MakeImage(4, 4, 3, 128).value()).value(); }

// The PNG with `chunk` inserted after IHDR.
std::string WithChunk(const std::string& chunk) {
  const std::string png = PlainPng();
  return png.substr(0, 33) + chunk + png.substr(33);
}

TEST(PngTextTest, ReadsAllThreeKinds) {
  std::string png = PlainPng();
  png = png.substr(0, 33) + Chunk("tEXt", std::string("Title\0caf\xe9", 10)) +
        Chunk("zTXt", std::string("Comment\0\0", 9) + Deflate("zipped text")) +
        Chunk("iTXt", std::string("Author\0\0\0en\0Autor\0", 18) + "Ж") +
        Chunk("iTXt", std::string("Zipped\0\1\0\0\0", 11) + Deflate("ü inflated")) + png.substr(33);
  StatusOr<std::vector<PngTextEntry>> texts = ReadPngTexts(png);
  ASSERT_TRUE(texts.ok()) << texts.status().ToString();
  ASSERT_EQ(texts->size(), 4u);
  EXPECT_EQ((*texts)[0].keyword, "Title");
  EXPECT_EQ((*texts)[0].text, "café");  // Latin-1 to UTF-8
  EXPECT_EQ((*texts)[1].text, "zipped text");
  EXPECT_EQ((*texts)[2].text, "Ж");
  EXPECT_EQ((*texts)[3].text, "ü inflated");
  EXPECT_EQ(GetPngText(png, "Comment").value().value_or(""), "zipped text");
  EXPECT_FALSE(GetPngText(png, "Nope").value().has_value());
}

TEST(PngTextTest, SetInsertsAfterIhdrWithValidCrc) {
  StatusOr<std::string> png = SetPngText(PlainPng(), "parameters", "hello");
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  EXPECT_EQ(png->substr(33, 4 + 4 + 16 + 4),
            Chunk("tEXt", std::string("parameters\0hello", 16)));
  // Still a valid image for OpenCV's decoder.
  EXPECT_TRUE(DecodePng(*png).ok());
}

TEST(PngTextTest, KeywordAndTextRules) {
  const std::string png = PlainPng();
  EXPECT_FALSE(SetPngText(png, "", "x").ok());
  EXPECT_FALSE(SetPngText(png, std::string(80, 'k'), "x").ok());
  EXPECT_FALSE(SetPngText(png, " lead", "x").ok());
  EXPECT_FALSE(SetPngText(png, "double  space", "x").ok());
  EXPECT_FALSE(SetPngText(png, "tab\tkey", "x").ok());
  EXPECT_FALSE(SetPngText(png, "ok", "bad \xc3").ok());
  EXPECT_FALSE(SetPngText(png, "ok", std::string("nul\0inside", 10)).ok());
  EXPECT_TRUE(SetPngText(png, "ok", "").ok());
  EXPECT_EQ(SetPngText("garbage", "ok", "x").status().code(), StatusCode::kInvalidArgument);
}

TEST(PngTextTest, MalformedTextChunksAreDataLoss) {
  const std::vector<std::string> bad = {
      Chunk("tEXt", "no separator"),
      Chunk("tEXt", std::string("\0empty keyword", 14)),
      Chunk("zTXt", std::string("k\0\0", 3) + "not deflate"),
      Chunk("zTXt", std::string("k\0\1", 3) + Deflate("x")),
      Chunk("iTXt", std::string("k\0\0\0", 4)),
      Chunk("iTXt", std::string("k\0\0\0en\0tr\0\xff\xfe", 12)),
      Chunk("iTXt", std::string("k\0\2\0\0\0x", 7)),
  };
  for (const std::string& chunk : bad) {
    StatusOr<std::vector<PngTextEntry>> r = ReadPngTexts(WithChunk(chunk));
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  }
}

TEST(PngTextTest, StructuralErrors) {
  const std::string png = PlainPng();
  // IEND missing.
  EXPECT_EQ(ReadPngTexts(png.substr(0, png.size() - 12)).status().code(), StatusCode::kDataLoss);
  // First chunk not IHDR.
  const std::string swapped = png.substr(0, 8) + Chunk("tEXt", std::string("a\0b", 3)) +
                              png.substr(8);
  EXPECT_EQ(ReadPngTexts(swapped).status().code(), StatusCode::kDataLoss);
  // Bytes after IEND are ignored.
  EXPECT_TRUE(ReadPngTexts(png + "trailing").ok());
  // A zip bomb is stopped at the cap.
  const std::string bomb = Chunk(
      "zTXt", std::string("k\0\0", 3) + Deflate(std::string(kMaxPngTextBytes + 1, 'a')));
  EXPECT_EQ(ReadPngTexts(WithChunk(bomb)).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace farm::image
