// TfjsWeights: the three face-api models load with every tensor and shape of their
// manifests; quantisation arithmetic on hand-made manifests; malformed input errors.
#include "farm/faceid/weights.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "faceid_paths.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

namespace fs = std::filesystem;
using testing::ReadJsonFile;

std::string Bytes(std::initializer_list<uint8_t> bytes) { return std::string(bytes.begin(), bytes.end()); }

template <typename T>
std::string BytesOf(T value) {
  std::string out(sizeof value, '\0');
  std::memcpy(out.data(), &value, sizeof value);
  return out;
}

std::string Manifest(const std::string& weights_json) {
  return R"([{"paths":["m.bin"],"weights":[)" + weights_json + "]}]";
}

// The error message of a Parse that must fail.
std::string ParseError(const std::string& manifest, const std::string& bytes) {
  auto weights = TfjsWeights::Parse(manifest, bytes, "test.json");
  EXPECT_FALSE(weights.ok()) << "parsed: " << manifest;
  return weights.ok() ? "" : weights.status().message();
}

class ScratchDir {
 public:
  ScratchDir() : path_(fs::temp_directory_path() / ("farm-faceid-weights-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

TEST(TfjsWeightsReal, AllThreeModelsLoadWithManifestShapes) {
  FARM_FACEID_REQUIRE_MODELS(models);
  const std::map<std::string, size_t> expected_counts = {
      {"ssd_mobilenetv1_model", 0}, {"face_landmark_68_model", 0}, {"face_recognition_model", 0}};
  for (const auto& [model, unused] : expected_counts) {
    const std::string manifest_path = models + "/" + model + "-weights_manifest.json";
    auto weights = TfjsWeights::Load(manifest_path);
    ASSERT_TRUE(weights.ok()) << weights.status().ToString();
    // Compare with an independent reading of the manifest (nlohmann).
    const auto manifest = ReadJsonFile(manifest_path);
    std::vector<std::string> names;
    for (const auto& group : manifest) {
      for (const auto& w : group["weights"]) {
        names.push_back(w["name"]);
        const std::vector<int64_t> shape = w["shape"].get<std::vector<int64_t>>();
        auto tensor = weights->Get(w["name"], shape);
        ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
        EXPECT_EQ(tensor->scalar_type(), at::kFloat);
        EXPECT_TRUE(tensor->isfinite().all().item<bool>()) << w["name"];
      }
    }
    EXPECT_EQ(weights->names(), names) << model;
    std::printf("%s: %zu tensors\n", model.c_str(), names.size());
  }
}

TEST(TfjsWeightsReal, KnownTensors) {
  FARM_FACEID_REQUIRE_MODELS(models);
  auto recognition = TfjsWeights::Load(models + "/face_recognition_model-weights_manifest.json");
  ASSERT_TRUE(recognition.ok()) << recognition.status().ToString();
  EXPECT_EQ(recognition->names().size(), 117u);
  EXPECT_TRUE(recognition->Get("fc", {256, 128}).ok());
  EXPECT_TRUE(recognition->Get("conv32_down/conv/filters", {7, 7, 3, 32}).ok());
  // conv64_* filters are stored as plain float32 in this manifest.
  EXPECT_TRUE(recognition->Get("conv64_1/conv1/conv/filters", {3, 3, 64, 64}).ok());

  auto landmarks = TfjsWeights::Load(models + "/face_landmark_68_model-weights_manifest.json");
  ASSERT_TRUE(landmarks.ok()) << landmarks.status().ToString();
  EXPECT_EQ(landmarks->names().size(), 49u);
  EXPECT_TRUE(landmarks->Get("fc/weights", {256, 136}).ok());

  auto ssd = TfjsWeights::Load(models + "/ssd_mobilenetv1_model-weights_manifest.json");
  ASSERT_TRUE(ssd.ok()) << ssd.status().ToString();
  auto anchors = ssd->Get("Output/extra_dim", {1, 5118, 4});
  ASSERT_TRUE(anchors.ok()) << anchors.status().ToString();
  // int32 tensors with quantisation: Math.round(q * scale + min).
  auto count = ssd->Get("Postprocessor/stack/1", {});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->item<float>(), 5118.0f);
  auto size = ssd->Get("Preprocessor/ResizeImage/size", {2});
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->sum().item<float>(), 1024.0f);
}

TEST(TfjsWeightsParse, QuantisationArithmetic) {
  const std::string manifest = Manifest(
      R"({"name":"u8","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":-0.3}},)"
      R"({"name":"u16","shape":[2],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.001,"min":2}},)"
      R"({"name":"i32q","shape":[4],"dtype":"int32","quantization":{"dtype":"uint8","scale":0.5,"min":-1.5}},)"
      R"({"name":"f32","shape":[1],"dtype":"float32"},)"
      R"({"name":"i32","shape":[],"dtype":"int32"})");
  const std::string bytes = Bytes({0, 1, 7, 255}) + Bytes({0x01, 0x02, 0xff, 0xff}) + Bytes({0, 1, 3, 4}) +
                            BytesOf(1.5f) + BytesOf(int32_t{-7});
  auto weights = TfjsWeights::Parse(manifest, bytes, "test.json");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->names(), (std::vector<std::string>{"u8", "u16", "i32q", "f32", "i32"}));

  auto u8 = weights->Get("u8", {2, 2});
  ASSERT_TRUE(u8.ok());
  const float* v = u8->data_ptr<float>();
  for (int i = 0; i < 4; ++i) {
    const int q = std::vector<int>{0, 1, 7, 255}[i];
    EXPECT_EQ(v[i], static_cast<float>(q * 0.1 + -0.3)) << i;  // in double, then float32
  }
  auto u16 = weights->Get("u16", {2});
  ASSERT_TRUE(u16.ok());
  EXPECT_EQ(u16->data_ptr<float>()[0], static_cast<float>(513 * 0.001 + 2));  // little-endian
  EXPECT_EQ(u16->data_ptr<float>()[1], static_cast<float>(65535 * 0.001 + 2));
  auto i32q = weights->Get("i32q", {4});
  ASSERT_TRUE(i32q.ok());
  // -1.5 -> -1, -1.0, 0.0, 0.5 -> 1: Math.round rounds halves up, unlike std::round.
  const std::vector<float> rounded(i32q->data_ptr<float>(), i32q->data_ptr<float>() + 4);
  EXPECT_EQ(rounded, (std::vector<float>{-1, -1, 0, 1}));
  EXPECT_EQ(weights->Get("f32", {1})->item<float>(), 1.5f);
  EXPECT_EQ(weights->Get("i32", {})->item<float>(), -7.0f);
}

TEST(TfjsWeightsParse, QuantisedValueIsRoundedOnceFromDouble) {
  // q*scale+min is computed in double and rounded once to float32, as tfjs does.
  const double scale = 1.0 / 3.0, min = 1e-9;
  const std::string manifest = Manifest(
      R"({"name":"t","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.3333333333333333,"min":1e-9}})");
  auto weights = TfjsWeights::Parse(manifest, Bytes({200}), "test.json");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->Get("t", {1})->item<float>(), static_cast<float>(200 * scale + min));
}

TEST(TfjsWeightsParse, GetReportsShapeMismatchAndMissingNames) {
  auto weights = TfjsWeights::Parse(Manifest(R"({"name":"a/b","shape":[2,3],"dtype":"float32"})"),
                                    std::string(24, '\0'), "model.json");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_TRUE(weights->Has("a/b"));
  EXPECT_FALSE(weights->Has("a"));
  auto wrong = weights->Get("a/b", {3, 2});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("\"a/b\""), std::string::npos);
  EXPECT_NE(wrong.status().message().find("[2,3]"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("expected [3,2]"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("model.json"), std::string::npos);
  auto missing = weights->Get("nope", {1});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(TfjsWeightsParse, ByteCountMustMatchExactly) {
  const std::string manifest = Manifest(
      R"({"name":"first","shape":[2],"dtype":"float32"},{"name":"second","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":0}})");
  EXPECT_TRUE(TfjsWeights::Parse(manifest, std::string(11, '\0'), "t").ok());
  const std::string short_error = ParseError(manifest, std::string(10, '\0'));
  EXPECT_NE(short_error.find("\"second\""), std::string::npos) << short_error;
  EXPECT_NE(short_error.find("[8, 11)"), std::string::npos) << short_error;
  const std::string first_error = ParseError(manifest, std::string(5, '\0'));
  EXPECT_NE(first_error.find("\"first\""), std::string::npos) << first_error;
  const std::string long_error = ParseError(manifest, std::string(12, '\0'));
  EXPECT_NE(long_error.find("11 bytes"), std::string::npos) << long_error;
  EXPECT_NE(long_error.find("12"), std::string::npos) << long_error;
}

TEST(TfjsWeightsParse, MalformedManifests) {
  struct Case {
    std::string manifest;
    std::string expected_in_message;
  };
  const std::vector<Case> cases = {
      {"{}", "array of groups"},
      {"[1]", "group 0: expected an object"},
      {"not json", "weights manifest"},
      {R"([{"paths":["a.bin"]}])", "\"weights\" must be an array"},
      {R"([{"weights":[]}])", "\"paths\" must be an array"},
      {R"([{"paths":[3],"weights":[]}])", "non-empty strings"},
      {Manifest(R"({"shape":[1],"dtype":"float32"})"), "\"name\""},
      {Manifest(R"({"name":"x","dtype":"float32"})"), "\"shape\""},
      {Manifest(R"({"name":"x","shape":[-1],"dtype":"float32"})"), "non-negative integers"},
      {Manifest(R"({"name":"x","shape":[1.5],"dtype":"float32"})"), "non-negative integers"},
      {Manifest(R"({"name":"x","shape":["2"],"dtype":"float32"})"), "non-negative integers"},
      {Manifest(R"({"name":"x","shape":[4294967296,4294967296],"dtype":"float32"})"), "too large"},
      {Manifest(R"({"name":"x","shape":[99999999999999999999],"dtype":"float32"})"), "non-negative integers"},
      {Manifest(R"({"name":"x","shape":[1,1,1,1,1,1,1,1,1],"dtype":"float32"})"), "8 dimensions"},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float16"})"), "unknown dtype \"float16\""},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"complex64"})"), "unknown dtype"},
      {Manifest(R"({"name":"x","shape":[1]})"), "\"dtype\""},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"int8","scale":1,"min":0}})"),
       "unsupported quantization dtype \"int8\""},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","min":0}})"),
       "quantization.scale"},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":1e999}})"),
       "quantization.min"},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float32","quantization":[]})"), "quantization must be an object"},
      {Manifest(R"({"name":"x","shape":[1],"dtype":"float32"},{"name":"x","shape":[1],"dtype":"float32"})"),
       "duplicate tensor name \"x\""},
  };
  for (const Case& c : cases) {
    const std::string message = ParseError(c.manifest, std::string(8, '\0'));
    EXPECT_NE(message.find(c.expected_in_message), std::string::npos)
        << "manifest: " << c.manifest << "\nmessage: " << message;
    EXPECT_NE(message.find("test.json"), std::string::npos) << message;
  }
}

TEST(TfjsWeightsLoad, ReadsShardsNextToTheManifest) {
  ScratchDir dir;
  dir.Write("m.bin", BytesOf(2.5f));
  dir.Write("n.bin", BytesOf(-1.0f));
  const std::string path = dir.Write(
      "model.json",
      R"([{"paths":["m.bin"],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]},)"
      R"( {"paths":["n.bin"],"weights":[{"name":"b","shape":[],"dtype":"float32"}]}])");
  auto weights = TfjsWeights::Load(path);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  EXPECT_EQ(weights->Get("a", {1})->item<float>(), 2.5f);
  EXPECT_EQ(weights->Get("b", {})->item<float>(), -1.0f);
}

TEST(TfjsWeightsLoad, MissingBinIsNotFound) {
  ScratchDir dir;
  const std::string path = dir.Write("model.json", Manifest(R"({"name":"a","shape":[1],"dtype":"float32"})"));
  auto weights = TfjsWeights::Load(path);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), StatusCode::kNotFound);
  EXPECT_NE(weights.status().message().find("m.bin"), std::string::npos) << weights.status().message();
}

TEST(TfjsWeightsLoad, MissingManifestIsNotFound) {
  auto weights = TfjsWeights::Load("/nonexistent/model.json");
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), StatusCode::kNotFound);
}

TEST(TfjsWeightsLoad, ShardPathsMustStayInTheFolder) {
  ScratchDir dir;
  for (const char* shard : {"../m.bin", "/etc/passwd", "sub/../../m.bin"}) {
    const std::string path = dir.Write(
        "model.json", std::string(R"([{"paths":[")") + shard +
                          R"("],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]}])");
    auto weights = TfjsWeights::Load(path);
    ASSERT_FALSE(weights.ok()) << shard;
    EXPECT_NE(weights.status().message().find("inside the manifest's folder"), std::string::npos)
        << weights.status().message();
  }
}

TEST(TfjsWeightsLoad, EachGroupMustFillItsOwnShards) {
  // 4 + 4 bytes in total, but split 2 / 6 between the groups' shards.
  ScratchDir dir;
  dir.Write("m.bin", std::string(2, '\0'));
  dir.Write("n.bin", std::string(6, '\0'));
  const std::string path = dir.Write(
      "model.json",
      R"([{"paths":["m.bin"],"weights":[{"name":"a","shape":[1],"dtype":"float32"}]},)"
      R"( {"paths":["n.bin"],"weights":[{"name":"b","shape":[1],"dtype":"float32"}]}])");
  auto weights = TfjsWeights::Load(path);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(weights.status().message().find("group 0"), std::string::npos) << weights.status().message();
}

TEST(TfjsWeightsLoad, TruncatedRealModelNamesTheTensor) {
  FARM_FACEID_REQUIRE_MODELS(models);
  ScratchDir dir;
  std::ifstream manifest_in(models + "/face_landmark_68_model-weights_manifest.json");
  const std::string manifest((std::istreambuf_iterator<char>(manifest_in)), std::istreambuf_iterator<char>());
  std::ifstream bin_in(models + "/face_landmark_68_model.bin", std::ios::binary);
  std::string bin((std::istreambuf_iterator<char>(bin_in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bin.size(), 1000u);
  bin.resize(bin.size() - 100);  // cuts into the last tensor, fc/bias (136 bytes)
  dir.Write("face_landmark_68_model.bin", bin);
  const std::string path = dir.Write("face_landmark_68_model-weights_manifest.json", manifest);
  auto weights = TfjsWeights::Load(path);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(weights.status().message().find("group 0"), std::string::npos) << weights.status().message();
  // Parse (no per-group check) names the tensor that overruns.
  auto parsed = TfjsWeights::Parse(manifest, bin, "landmarks");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("\"fc/bias\""), std::string::npos) << parsed.status().message();
}

TEST(TfjsWeightsParse, FuzzSeedCorpusParsesAsItsNamesSay) {
  // tests/fuzz/corpus_tfjs: 4-byte little-endian manifest length, manifest, shard bytes.
  // Seeds named valid_* must parse; every other seed must be refused.
  const char* root = std::getenv("FARM_SOURCE_DIR");
  const fs::path corpus = fs::path(root ? root : ".") / "tests" / "fuzz" / "corpus_tfjs";
  std::error_code ec;
  if (!fs::is_directory(corpus, ec)) GTEST_SKIP() << "no seed corpus at " << corpus;
  int seeds = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = entry.path().filename().string();
    const bool valid = name.rfind("valid_", 0) == 0;
    bool parsed = false;
    if (data.size() >= 4) {
      uint32_t length = 0;
      std::memcpy(&length, data.data(), 4);
      const size_t manifest_size = std::min<size_t>(length, data.size() - 4);
      parsed = TfjsWeights::Parse(std::string_view(data).substr(4, manifest_size),
                                  std::string_view(data).substr(4 + manifest_size), name)
                   .ok();
    }
    EXPECT_EQ(parsed, valid) << name;
    ++seeds;
  }
  EXPECT_GE(seeds, 10);
}

}  // namespace
}  // namespace farm::faceid
