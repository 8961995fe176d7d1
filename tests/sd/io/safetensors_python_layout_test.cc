// The two writer layouts: the farm's (by name) and Python safetensors' (by dtype, then
// name), whose exact bytes kohya's LoRA hashes depend on.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "farm/sd/safetensors.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

// One tensor of every dtype the crate orders, names chosen so that name order and
// dtype order disagree.
TensorMap MixedTensors() {
  return {
      {"a.weight", at::tensor({1.0, 2.0, 3.0}).to(at::kHalf)},
      {"a.alpha", at::scalar_tensor(4.0, at::kFloat)},
      {"b.weight", at::tensor({5.0, 6.0}).to(at::kFloat)},
      {"c", at::scalar_tensor(7, at::kLong)},
      {"d", at::tensor({8.0}).to(at::kDouble)},
      {"e", at::tensor({9, 10}).to(at::kInt)},
      {"m", at::tensor({1.5, 2.5}).to(at::kBFloat16).reshape({1, 2})},
      {"s", at::tensor({11}).to(at::kShort)},
      {"i8", at::tensor({-1}).to(at::kChar)},
      {"z", at::tensor({12}).to(at::kByte)},
      {"flag", at::tensor({1, 0}).to(at::kBool)},
  };
}

std::string Padded(std::string header) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

uint64_t HeaderLength(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return n;
}

std::string Bytes(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SafetensorsPythonLayoutTest, OrdersByDtypeThenNameWithCompactJson) {
  const TensorMap tensors = MixedTensors();
  const std::map<std::string, std::string> metadata = {{"ss_b", "2"}, {"ss_a", "x\ny\x01\xC3\xA9"}};
  auto bytes = SerializeSafetensorsAsPython(tensors, &metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();

  // The Rust crate's Dtype enum, descending: I64, F64, F32, I32, BF16, F16, I16, I8, U8,
  // BOOL; names in byte order within one dtype; serde_json's compact spelling.
  const std::string expected_header = Padded(
      "{\"__metadata__\":{\"ss_a\":\"x\\ny\\u0001\xC3\xA9\",\"ss_b\":\"2\"},"
      "\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
      "\"a.alpha\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]},"
      "\"b.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]},"
      "\"e\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[28,36]},"
      "\"m\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[36,40]},"
      "\"a.weight\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[40,46]},"
      "\"s\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[46,48]},"
      "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[48,49]},"
      "\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[49,50]},"
      "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[50,52]}}");
  ASSERT_GE(bytes->size(), 8u);
  const uint64_t n = HeaderLength(*bytes);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes->size(), 8 + n + 52);
  EXPECT_EQ(bytes->substr(8, n), expected_header);

  std::string data;
  for (const char* name : {"c", "d", "a.alpha", "b.weight", "e", "m", "a.weight", "s", "i8", "z", "flag"}) {
    data += Bytes(tensors.at(name));
  }
  EXPECT_EQ(bytes->substr(8 + n), data);

  // The same bytes through the file writer, and they read back.
  const std::string path = testing::ScratchPath("python_layout", "mixed.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata, SafetensorsLayout::kPython).ok());
  EXPECT_EQ(ReadFile(path), *bytes);
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->metadata(), metadata);
  for (const auto& [name, tensor] : tensors) {
    auto loaded = (*file)->Load(name);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(at::equal(*loaded, tensor)) << name;
  }
}

TEST(SafetensorsPythonLayoutTest, MetadataPresenceFollowsPython) {
  const TensorMap tensors = {{"w", at::ones({1}, at::kFloat)}};
  const std::map<std::string, std::string> empty;
  // save(tensors, metadata={}) writes an empty "__metadata__"; metadata=None none.
  auto with_empty = SerializeSafetensorsAsPython(tensors, &empty);
  auto without = SerializeSafetensorsAsPython(tensors, nullptr);
  ASSERT_TRUE(with_empty.ok() && without.ok());
  EXPECT_EQ(with_empty->substr(8, HeaderLength(*with_empty)),
            Padded("{\"__metadata__\":{},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"));
  EXPECT_EQ(without->substr(8, HeaderLength(*without)),
            Padded("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"));

  // An empty "__metadata__" reads as no metadata.
  const std::string path = testing::ScratchPath("python_layout", "empty_metadata.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {}, SafetensorsLayout::kPython).ok());
  EXPECT_EQ(ReadFile(path), *with_empty);
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_TRUE((*file)->metadata().empty());
}

// The farm's own files keep their layout: names sorted whatever the dtype, no empty
// "__metadata__".
TEST(SafetensorsPythonLayoutTest, DefaultLayoutStaysByName) {
  const TensorMap tensors = MixedTensors();
  const std::string path = testing::ScratchPath("python_layout", "by_name.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  const std::string bytes = ReadFile(path);
  ASSERT_GE(bytes.size(), 8u);
  const std::string header = bytes.substr(8, HeaderLength(bytes));
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::vector<std::string> order;
  for (const TensorInfo& info : (*file)->tensors()) order.push_back(info.name);
  EXPECT_EQ(order, (std::vector<std::string>{"a.alpha", "a.weight", "b.weight", "c", "d", "e", "flag", "i8", "m",
                                             "s", "z"}));
}

TEST(SafetensorsPythonLayoutTest, BadTensorStopsBeforeAnyByte) {
  int pieces = 0;
  Status status = StreamSafetensors({{"a", at::ones({1})}, {"b", at::ones({1}, at::kComplexFloat)}}, nullptr,
                                    SafetensorsLayout::kPython, [&](std::string_view) {
                                      ++pieces;
                                      return Status::Ok();
                                    });
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("tensor 'b': dtype"), std::string::npos) << status.message();
  EXPECT_EQ(pieces, 0);

  // A sink's error ends the stream and comes back as is.
  status = StreamSafetensors({{"a", at::ones({1})}}, nullptr, SafetensorsLayout::kPython,
                             [&](std::string_view) { return Unavailable("disk full"); });
  EXPECT_EQ(status.message(), "disk full");
}

}  // namespace
}  // namespace farm::sd
