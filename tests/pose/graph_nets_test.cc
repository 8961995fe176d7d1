// The three human-models nets against shared/reference/pose: each stored input through
// the interpreter, outputs compared with the tfjs cpu backend's within the README's
// tolerances. Skips when the models (tools/setup.sh) or the reference are absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "farm/pose/graph_model.h"
#include "farm/pose/nets.h"
#include "farm/sd/safetensors.h"

namespace farm::pose {
namespace {

namespace fs = std::filesystem;

fs::path ModelsDir() {
  const char* env = std::getenv("STUDIOFARM_MODELS");
  const char* home = std::getenv("HOME");
  const fs::path root =
      env && *env ? fs::path(env) : fs::path(home ? home : "/") / ".cache/studiofarm/models";
  return root / "human-models";
}

fs::path ReferenceDir() {
  if (const char* env = std::getenv("FARM_POSE_REFERENCE"); env && *env) return env;
  const char* src = std::getenv("FARM_SOURCE_DIR");
  return fs::path(src ? src : ".") / ".." / "shared" / "reference" / "pose";
}

std::vector<std::string> Samples() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ReferenceDir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, std::regex(R"(sample\d+\.safetensors)")))
      names.push_back(name.substr(0, name.size() - 12));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<float> Floats(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
std::vector<int32_t> Ints(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kInt).contiguous();
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

float MaxAbsDiff(const float* a, const float* b, size_t n) {
  float worst = 0;
  for (size_t i = 0; i < n; ++i)
    worst = std::max(worst, std::isfinite(a[i] - b[i]) ? std::fabs(a[i] - b[i]) : INFINITY);
  return worst;
}

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

class GraphNetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(ModelsDir() / "movenet-multipose.json")) {
      GTEST_SKIP() << "human models not installed in " << ModelsDir() << " (run tools/setup.sh)";
    }
    if (Samples().empty())
      GTEST_SKIP() << "no pose reference (sampleN.safetensors) in " << ReferenceDir();
  }
  std::shared_ptr<sd::SafetensorsFile> Open(const std::string& sample) {
    auto file = sd::SafetensorsFile::Open((ReferenceDir() / (sample + ".safetensors")).string());
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? file.value() : nullptr;
  }
  at::Tensor Load(const sd::SafetensorsFile& file, const std::string& name) {
    auto t = file.Load(name);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? t.value() : at::Tensor();
  }
};

TEST_F(GraphNetsTest, MoveNetMatchesReference) {
  auto net = MoveNetMultipose::Load((ModelsDir() / "movenet-multipose.json").string());
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  for (const std::string& sample : Samples()) {
    SCOPED_TRACE(sample);
    auto file = Open(sample);
    ASSERT_TRUE(file);
    const at::Tensor input = Load(*file, "movenet.input");
    const std::vector<float> expected = Floats(Load(*file, "movenet.output"));
    const auto start = std::chrono::steady_clock::now();
    auto out = net.value().Run(Ints(input), static_cast<int>(input.size(1)),
                               static_cast<int>(input.size(2)));
    std::printf("[ timing ] MoveNet %s: %.1f ms\n", sample.c_str(), Ms(start));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out.value().size(), expected.size());
    // Slots as a set: a near-tie between heat-map peaks may reorder TopK's slots.
    const size_t slot = MoveNetMultipose::kSlotValues;
    std::printf("[ diff ] MoveNet %s: %.3g (slots in order)\n", sample.c_str(),
                MaxAbsDiff(out.value().data(), expected.data(), expected.size()));
    for (size_t s = 0; s < MoveNetMultipose::kSlots; ++s) {
      float best = INFINITY;
      for (size_t r = 0; r < MoveNetMultipose::kSlots; ++r) {
        best = std::min(
            best, MaxAbsDiff(out.value().data() + s * slot, expected.data() + r * slot, slot));
      }
      EXPECT_LE(best, 1e-4f) << "slot " << s << " matches no reference slot";
      if (MaxAbsDiff(out.value().data() + s * slot, expected.data() + s * slot, slot) > 1e-4f) {
        std::printf("note: %s slot %zu matches another reference slot (TopK near-tie order)\n",
                    sample.c_str(), s);
      }
    }
  }
}

TEST_F(GraphNetsTest, MoveNetHeadsMatchReference) {
  auto graph = GraphModel::Load((ModelsDir() / "movenet-multipose.json").string());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  int checked = 0;
  for (const std::string& sample : Samples()) {
    auto file = Open(sample);
    ASSERT_TRUE(file);
    std::vector<std::string> heads, nodes;
    for (const auto& info : file->tensors()) {
      if (info.name.rfind("movenet.head.", 0) != 0) continue;
      const std::string head = info.name.substr(13);
      const std::regex pattern("StatefulPartitionedCall/" + head + "/conv2d_\\d+/BiasAdd");
      for (const std::string& node : graph.value()->NodeNames()) {
        if (std::regex_match(node, pattern)) {
          heads.push_back(info.name);
          nodes.push_back(node);
        }
      }
    }
    if (heads.empty()) continue;
    SCOPED_TRACE(sample);
    const at::Tensor input = Load(*file, "movenet.input");
    auto out =
        graph.value()->Run({{"input", HostTensor::Int(input.sizes().vec(), Ints(input))}}, nodes);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (size_t i = 0; i < heads.size(); ++i) {
      const std::vector<float> expected = Floats(Load(*file, heads[i]));
      ASSERT_EQ(out.value()[i].floats.size(), expected.size()) << heads[i];
      // The README's cpu-vs-wasm head difference is 9.7e-4; the heads are pre-sigmoid logits.
      const float diff = MaxAbsDiff(out.value()[i].floats.data(), expected.data(), expected.size());
      std::printf("[ diff ] %s %s: %.3g\n", sample.c_str(), heads[i].c_str(), diff);
      EXPECT_LE(diff, 1e-3f) << heads[i];
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no movenet.head.* tensors in the reference";
}

TEST_F(GraphNetsTest, HandDetectorMatchesReference) {
  auto net = HandDetectorNet::Load((ModelsDir() / "handtrack.json").string());
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  for (const std::string& sample : Samples()) {
    SCOPED_TRACE(sample);
    auto file = Open(sample);
    ASSERT_TRUE(file);
    const at::Tensor input = Load(*file, "handdet.input");
    const std::vector<float> scores = Floats(Load(*file, "handdet.scores"));
    const std::vector<float> boxes = Floats(Load(*file, "handdet.boxes"));
    const auto start = std::chrono::steady_clock::now();
    auto out = net.value().Run(Ints(input), static_cast<int>(input.size(1)),
                               static_cast<int>(input.size(2)));
    std::printf("[ timing ] hand detector %s (%dx%d): %.1f ms\n", sample.c_str(),
                static_cast<int>(input.size(2)), static_cast<int>(input.size(1)), Ms(start));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out.value().scores.size(), scores.size());
    ASSERT_EQ(out.value().boxes.size(), boxes.size());
    const float score_diff = MaxAbsDiff(out.value().scores.data(), scores.data(), scores.size());
    const float box_diff = MaxAbsDiff(out.value().boxes.data(), boxes.data(), boxes.size());
    std::printf("[ diff ] hand detector %s: scores %.3g, boxes %.3g\n", sample.c_str(), score_diff,
                box_diff);
    EXPECT_LE(score_diff, 1e-4f);
    EXPECT_LE(box_diff, 1e-4f);
  }
}

TEST_F(GraphNetsTest, HandDetectorPreprocessingInsideTheLoop) {
  auto graph = GraphModel::Load((ModelsDir() / "handtrack.json").string());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  int checked = 0;
  for (const std::string& sample : Samples()) {
    auto file = Open(sample);
    ASSERT_TRUE(file);
    if (!file->Find("handdet.preprocessed")) continue;
    SCOPED_TRACE(sample);
    const at::Tensor input = Load(*file, "handdet.input");
    auto out =
        graph.value()->Run({{"input_tensor", HostTensor::Int(input.sizes().vec(), Ints(input))}},
                           {"StatefulPartitionedCall/map/TensorArrayV2Stack/TensorListStack"});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    const std::vector<float> expected = Floats(Load(*file, "handdet.preprocessed"));
    ASSERT_EQ(out.value()[0].floats.size(), expected.size());
    EXPECT_LE(MaxAbsDiff(out.value()[0].floats.data(), expected.data(), expected.size()), 1e-5f);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no handdet.preprocessed tensor in the reference";
}

TEST_F(GraphNetsTest, HandLandmarksMatchReference) {
  auto net = HandLandmarkNet::Load((ModelsDir() / "handlandmark-lite.json").string());
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  int checked = 0;
  for (const std::string& sample : Samples()) {
    auto file = Open(sample);
    ASSERT_TRUE(file);
    std::ifstream in(ReferenceDir() / (sample + ".json"));
    ASSERT_TRUE(in) << sample << ".json";
    const nlohmann::json facts = nlohmann::json::parse(in);
    for (const char* run : {"hand", "hand_variant"}) {
      if (!facts.contains(run)) continue;
      const std::string prefix = std::string(run) == "hand" ? "hand." : "variant.hand.";
      for (const auto& hand : facts[run].value("hands", nlohmann::json::array())) {
        const auto& lm = hand["landmark_net"];
        if (!lm.contains("input_tensor") || lm["input_tensor"].is_null()) continue;
        const std::string name = lm["input_tensor"].get<std::string>();
        const int row = lm["raw_output_row"].get<int>();
        SCOPED_TRACE(sample + " " + name + " row " + std::to_string(row));
        const std::vector<float> keypoints = Floats(Load(*file, prefix + "raw_keypoints"));
        const std::vector<float> flags = Floats(Load(*file, prefix + "raw_handflag"));
        const std::vector<float> handedness = Floats(Load(*file, prefix + "raw_handedness"));
        ASSERT_LE(static_cast<size_t>(row + 1) * 63, keypoints.size());
        const auto start = std::chrono::steady_clock::now();
        auto out = net.value().Run(Floats(Load(*file, name)));
        std::printf("[ timing ] hand landmarks %s %s: %.1f ms\n", sample.c_str(), name.c_str(),
                    Ms(start));
        ASSERT_TRUE(out.ok()) << out.status().ToString();
        const float kp_diff =
            MaxAbsDiff(out.value().keypoints.data(), keypoints.data() + row * 63, 63);
        std::printf("[ diff ] hand landmarks %s %s: keypoints %.3g, flag %.3g, handedness %.3g\n",
                    sample.c_str(), name.c_str(), kp_diff,
                    std::fabs(out.value().hand_flag - flags[static_cast<size_t>(row)]),
                    std::fabs(out.value().handedness - handedness[static_cast<size_t>(row)]));
        EXPECT_LE(kp_diff, 2e-3f);
        EXPECT_NEAR(out.value().hand_flag, flags[static_cast<size_t>(row)], 1e-4f);
        EXPECT_NEAR(out.value().handedness, handedness[static_cast<size_t>(row)], 1e-4f);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0) << "no stored landmark inputs in the reference";
}

TEST_F(GraphNetsTest, NetsRejectWrongInputSizes) {
  auto net = HandLandmarkNet::Load((ModelsDir() / "handlandmark-lite.json").string());
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  auto out = net.value().Run(std::vector<float>(10));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("224*224*3"), std::string::npos) << out.status().ToString();
}

}  // namespace
}  // namespace farm::pose
