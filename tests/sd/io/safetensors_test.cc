#include "farm/sd/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "farm/sd/json.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

std::string Scratch(const std::string& name) { return testing::ScratchPath("safetensors", name); }

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LengthBytes(uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return out;
}

// A file with `header` as its JSON and `data_bytes` zero bytes of data.
std::string RawFile(const std::string& header, size_t data_bytes) {
  return LengthBytes(header.size()) + header + std::string(data_bytes, '\0');
}

TEST(SafetensorsTest, RoundTripsEveryDtypeScalarsAndEmptyTensors) {
  TensorMap tensors;
  const at::ScalarType types[] = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                  at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};
  for (at::ScalarType type : types) {
    const std::string name = c10::toString(type);
    at::Tensor values = at::arange(-3, 3, at::kDouble).reshape({2, 3});
    if (type == at::kByte) values = values.abs();
    tensors[name + ".matrix"] = type == at::kBool ? (values > 0) : values.to(type);
    tensors[name + ".scalar"] = at::full({}, 2, at::TensorOptions().dtype(type));
    tensors[name + ".empty"] = at::empty({0, 3}, at::TensorOptions().dtype(type));
  }
  tensors["transposed"] = at::arange(12, at::kFloat).reshape({3, 4}).t();  // not contiguous
  const std::string path = Scratch("all_dtypes.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());

  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  EXPECT_TRUE((*file)->metadata().empty());
  uint64_t expected_begin = 0;
  auto it = tensors.begin();
  for (const TensorInfo& info : (*file)->tensors()) {  // sorted names, contiguous data
    EXPECT_EQ(info.name, it->first);
    EXPECT_EQ(info.begin, expected_begin);
    expected_begin = info.end;
    ++it;
  }
  for (const auto& [name, expected] : tensors) {
    auto loaded = (*file)->Load(name);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(loaded->sizes(), expected.sizes()) << name;
    EXPECT_TRUE(at::equal(*loaded, expected)) << name;
  }
  const TensorInfo* scalar = (*file)->Find("Float.scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->shape, std::vector<int64_t>{});
  EXPECT_EQ((*file)->Find("missing"), nullptr);
  auto missing = (*file)->Load("missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no tensor named 'missing'"), std::string::npos);

  const std::string bytes = ReadBytes(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_length + expected_begin);
}

TEST(SafetensorsTest, LoadedTensorsOutliveTheFile) {
  const std::string path = Scratch("outlive.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"w", at::arange(6, at::kFloat)}}).ok());
  at::Tensor kept;
  {
    auto file = SafetensorsFile::Open(path);
    ASSERT_TRUE(file.ok());
    kept = *(*file)->Load("w");
  }
  fs::remove(path);
  EXPECT_TRUE(at::equal(kept, at::arange(6, at::kFloat)));
}

TEST(SafetensorsTest, MetadataRoundTripsWithEscapes) {
  const std::string path = Scratch("metadata.safetensors");
  std::map<std::string, std::string> metadata = {
      {"ss_network_dim", "4"}, {"quote\"back\\slash", "line\nbreak\ttab \xC3\xA9"}, {"empty", ""}};
  ASSERT_TRUE(WriteSafetensors(path, {{"a", at::ones({2}, at::kFloat)}}, metadata).ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->metadata(), metadata);
  auto all = ReadSafetensors(path);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST(SafetensorsTest, WriteFailureLeavesNothingBehind) {
  const std::string dir = Scratch("write_failure");
  fs::create_directories(dir);
  const std::string path = dir + "/model.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"old", at::ones({1}, at::kFloat)}}).ok());

  Status undefined = WriteSafetensors(path, {{"a", at::ones({1})}, {"b", at::Tensor()}});
  ASSERT_FALSE(undefined.ok());
  EXPECT_NE(undefined.message().find("tensor 'b': undefined tensor"), std::string::npos) << undefined.message();
  Status complex = WriteSafetensors(path, {{"c", at::ones({1}, at::kComplexFloat)}});
  ASSERT_FALSE(complex.ok());
  EXPECT_NE(complex.message().find("tensor 'c': dtype"), std::string::npos) << complex.message();
  Status no_folder = WriteSafetensors(dir + "/missing/model.safetensors", {{"a", at::ones({1})}});
  EXPECT_FALSE(no_folder.ok());

  // The old file is untouched and no temporary file is left.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  auto old = ReadSafetensors(path);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->count("old"), 1u);
}

TEST(SafetensorsTest, HeaderLengthWithPickleLikeBytesIsNotAPickle) {
  // A header of 0x380 bytes starts the file with 80 03, the pickle protocol 3 magic.
  std::string header = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  header.append(0x380 - header.size(), ' ');
  const std::string path = Scratch("pickle_like_length.safetensors");
  WriteBytes(path, RawFile(header, 1));
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->tensors().size(), 1u);
}

struct HostileCase {
  const char* name;
  std::string bytes;
  const char* expected;  // a part of the error message
};

TEST(SafetensorsTest, HostileFilesGiveSpecificErrors) {
  const std::string f32_2x2 = R"("dtype":"F32","shape":[2,2])";
  const std::vector<HostileCase> cases = {
      {"empty", "", "file is empty"},
      {"short", std::string("\x10\0\0", 3), "file has only 3 bytes"},
      {"truncated_header", LengthBytes(64) + "{\"x\":{\"dtype\":", "header length 64 runs past the end of the file (14 bytes"},
      {"length_beyond_file", LengthBytes(4096) + std::string(100, ' '), "header length 4096 runs past the end"},
      {"huge_length", LengthBytes(uint64_t{1} << 62) + "{}      ", "exceeds the limit of 100000000 bytes"},
      {"not_json", RawFile("{\"x\": [1, 2", 0), "header is not valid JSON: JSON line 1, column 12"},
      {"not_object", RawFile("[1, 2]", 0), "header is a JSON array, expected an object"},
      {"entry_not_object", RawFile("{\"x\": 5}", 0), "tensor 'x': entry is a number, expected an object"},
      {"missing_dtype", RawFile(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", 4), "tensor 'x': missing \"dtype\""},
      {"unknown_dtype", RawFile(R"({"x":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'x': unknown dtype \"F31\" (expected one of F64"},
      {"negative_shape", RawFile(R"({"x":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}})", 16),
       "tensor 'x': shape[1] is -2, expected a non-negative integer"},
      {"fractional_shape", RawFile(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "tensor 'x': shape[0] is 1.5"},
      {"bad_offsets", RawFile(R"({"x":{)" + f32_2x2 + R"(,"data_offsets":[0]}})", 16),
       "tensor 'x': \"data_offsets\" must be [begin, end]"},
      {"begin_after_end", RawFile(R"({"x":{)" + f32_2x2 + R"(,"data_offsets":[16,0]}})", 16),
       "tensor 'x': data_offsets [16, 0] end before they begin"},
      {"offsets_out_of_range", RawFile(R"({"x":{)" + f32_2x2 + R"(,"data_offsets":[8,24]}})", 16),
       "tensor 'x': data_offsets [8, 24] run past the end of the data section (16 bytes)"},
      {"truncated_data", RawFile(R"({"x":{)" + f32_2x2 + R"(,"data_offsets":[0,16]}})", 10),
       "tensor 'x': data_offsets [0, 16] run past the end of the data section (10 bytes)"},
      {"size_mismatch", RawFile(R"({"x":{)" + f32_2x2 + R"(,"data_offsets":[0,12]}})", 16),
       "tensor 'x': data_offsets [0, 12] hold 12 bytes but F32 [2,2] needs 16"},
      {"overflowing_shape",
       RawFile(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
       "tensor 'x': F32 [4294967296,4294967296] needs more bytes than fit in 64 bits"},
      {"overlapping",
       RawFile(R"({"a":{)" + f32_2x2 + R"(,"data_offsets":[0,16]},"b":{)" + f32_2x2 + R"(,"data_offsets":[8,24]}})", 24),
       "tensors 'a' [0, 16] and 'b' [8, 24] overlap"},
      {"duplicate_name", RawFile(R"({"a":{)" + f32_2x2 + R"(,"data_offsets":[0,16]},"a":{)" + f32_2x2 + R"(,"data_offsets":[16,32]}})", 32),
       "duplicate key \"a\""},
      {"metadata_not_object", RawFile(R"({"__metadata__":[1]})", 0), "\"__metadata__\" is a array, expected an object of strings"},
      {"metadata_not_strings", RawFile(R"({"__metadata__":{"dim":4}})", 0),
       "\"__metadata__\" entry \"dim\" is a number, expected a string"},
      {"pickle_magic", std::string("\x80\x02}q\x00(X\x01\x00\x00\x00", 12) + std::string(40, 'a'),
       "starts with pickle/zip magic bytes"},
      {"zip_magic", std::string("PK\x03\x04", 4) + std::string(60, '\0'), "starts with pickle/zip magic bytes"},
  };
  for (const HostileCase& c : cases) {
    const std::string path = Scratch(std::string(c.name) + ".safetensors");
    WriteBytes(path, c.bytes);
    auto file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.name << " was accepted";
    const std::string& message = file.status().message();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << c.name << ": the error does not start with the path: " << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": " << message;
    EXPECT_FALSE(ReadSafetensors(path).ok()) << c.name;
  }
}

TEST(SafetensorsTest, InvalidBoolBytesAreRefusedOnLoad) {
  const std::string path = Scratch("bad_bool.safetensors");
  std::string bytes = RawFile(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", 0) + std::string("\x01\x07", 2);
  WriteBytes(path, bytes);
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto loaded = (*file)->Load("b");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("tensor 'b': BOOL byte 1 is 7"), std::string::npos)
      << loaded.status().message();
}

TEST(SafetensorsTest, MissingFilesFoldersAndPickleNamesAreRefused) {
  const std::string missing = Scratch("does_not_exist.safetensors");
  auto a = SafetensorsFile::Open(missing);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(a.status().message(), missing + ": no such file");

  const std::string folder = Scratch("a_folder");
  fs::create_directories(folder);
  auto b = SafetensorsFile::Open(folder);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), folder + ": is a folder, expected a .safetensors file");

  // A well-formed safetensors file under a pickle name is still refused: the name is
  // what a user sees, and such files are normally pickles.
  for (const char* name : {"model.ckpt", "model.pt", "model.PTH", "pytorch_model.bin"}) {
    const std::string path = Scratch(name);
    ASSERT_TRUE(WriteSafetensors(path, {{"a", at::ones({1})}}).ok());
    auto c = SafetensorsFile::Open(path);
    ASSERT_FALSE(c.ok()) << name;
    const std::string& message = c.status().message();
    EXPECT_NE(message.find("a pickle checkpoint"), std::string::npos) << message;
    EXPECT_NE(message.find("arbitrary code"), std::string::npos) << message;
    EXPECT_NE(message.find("safe_serialization=True"), std::string::npos) << message;
  }
}

// ---- reference files ----

std::vector<int64_t> JsonShape(const Json& shape) {
  std::vector<int64_t> out;
  for (const Json& dim : shape.items()) out.push_back(*dim.AsInt64());
  return out;
}

TEST(SafetensorsReferenceTest, TinyIoMatchesTheConfigDescription) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  auto config = Json::Parse(ReadBytes(dir + "/tiny_config.json"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const Json* described = config->Find("io_tensors");
  ASSERT_NE(described, nullptr);
  auto file = SafetensorsFile::Open(dir + "/tiny_io.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ((*file)->tensors().size(), described->members().size());
  for (const auto& [name, entry] : described->members()) {
    const TensorInfo* info = (*file)->Find(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(DTypeName(info->dtype), entry.Find("dtype")->text()) << name;
    EXPECT_EQ(info->shape, JsonShape(*entry.Find("shape"))) << name;
  }
}

TEST(SafetensorsReferenceTest, EveryReferenceFileReadsWithFiniteValues) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    ++files;
    auto tensors = ReadSafetensors(entry.path().string());
    ASSERT_TRUE(tensors.ok()) << tensors.status().ToString();
    EXPECT_FALSE(tensors->empty()) << entry.path();
    for (const auto& [name, tensor] : *tensors) {
      if (at::isFloatingType(tensor.scalar_type())) {
        EXPECT_TRUE(at::isfinite(tensor).all().item<bool>()) << entry.path() << ": " << name;
      }
    }
  }
  EXPECT_GE(files, 3);
  auto lora = SafetensorsFile::Open(dir + "/tiny_lora.safetensors");
  ASSERT_TRUE(lora.ok());
  EXPECT_EQ(lora.value()->metadata().count("ss_network_dim"), 1u);
}

}  // namespace
}  // namespace farm::sd
