// The graph interpreter on small hand-written tfjs graph models: control flow (a while
// loop as TF v1 writes it, a cond), TF SAME padding, the depthwise kernel and fused conv
// chains against brute force, weight storage decoding, TopK ties,
// StridedSlice masks, and the error messages for bad models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "farm/pose/graph_model.h"

namespace farm::pose {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Base64(const std::string& bytes) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v =
        (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += abc[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += "=";
  }
  return out;
}

json Node(const std::string& name, const std::string& op, std::vector<std::string> inputs = {},
          json attr = json::object()) {
  json n = {{"name", name}, {"op", op}, {"attr", attr}};
  if (!inputs.empty()) n["input"] = inputs;
  return n;
}

json Shape(const std::vector<int64_t>& dims) {
  json d = json::array();
  for (int64_t v : dims) d.push_back({{"size", std::to_string(v)}});
  return {{"dim", d}};
}

json FloatConst(const std::string& name, const std::vector<int64_t>& shape,
                const std::vector<float>& values, std::vector<std::string> inputs = {}) {
  return Node(name, "Const", std::move(inputs),
              {{"dtype", {{"type", "DT_FLOAT"}}},
               {"value",
                {{"tensor",
                  {{"dtype", "DT_FLOAT"}, {"tensorShape", Shape(shape)}, {"floatVal", values}}}}}});
}

json IntConst(const std::string& name, const std::vector<int64_t>& shape,
              const std::vector<int32_t>& values, std::vector<std::string> inputs = {}) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return Node(name, "Const", std::move(inputs),
              {{"dtype", {{"type", "DT_INT32"}}},
               {"value",
                {{"tensor",
                  {{"dtype", "DT_INT32"},
                   {"tensorShape", Shape(shape)},
                   {"tensorContent", Base64(bytes)}}}}}});
}

json Placeholder(const std::string& name, const char* type) {
  return Node(name, "Placeholder", {}, {{"dtype", {{"type", type}}}});
}

json Frame(const std::string& frame, bool constant = false) {
  return {{"frame_name", {{"s", Base64(frame)}}}, {"is_constant", {{"b", constant}}}};
}

json IntList(const std::vector<int64_t>& v) {
  json items = json::array();
  for (int64_t x : v) items.push_back(std::to_string(x));
  return {{"list", {{"i", items}}}};
}
json Str(const std::string& s) { return {{"s", Base64(s)}}; }

class GraphInterpreterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pose_graph_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const json& nodes, const json& manifest = json::array(),
                    const std::string& bin = "", const std::string& bin_name = "model.bin") {
    const json model = {{"format", "graph-model"},
                        {"modelTopology", {{"node", nodes}}},
                        {"weightsManifest", manifest}};
    const fs::path path = dir_ / "model.json";
    std::ofstream(path) << model.dump();
    if (!bin.empty()) std::ofstream(dir_ / bin_name, std::ios::binary) << bin;
    return path.string();
  }

  fs::path dir_;
};

std::vector<float> RunFloats(const GraphModel& g,
                             const std::vector<std::pair<std::string, HostTensor>>& in,
                             const std::string& out) {
  auto r = g.Run(in, {out});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return r.value()[0].floats;
}

// i = 0, acc = 0; while (i < limit) { acc += i; i += 1 } as TF v1 control flow writes it.
json WhileLoopGraph() {
  return json::array({
      Placeholder("limit", "DT_INT32"),
      IntConst("zero", {}, {0}),
      Node("i_enter", "Enter", {"zero"}, Frame("loop")),
      Node("acc_enter", "Enter", {"zero"}, Frame("loop")),
      Node("limit_enter", "Enter", {"limit"}, Frame("loop", /*constant=*/true)),
      Node("i_merge", "Merge", {"i_enter", "i_next"}),
      Node("acc_merge", "Merge", {"acc_enter", "acc_next"}),
      Node("less", "Less", {"i_merge", "limit_enter"}),
      Node("cond", "LoopCond", {"less"}),
      Node("i_switch", "Switch", {"i_merge", "cond"}),
      Node("acc_switch", "Switch", {"acc_merge", "cond"}),
      Node("i_body", "Identity", {"i_switch:1"}),
      IntConst("one", {}, {1}, {"^i_body"}),
      Node("i_add", "AddV2", {"i_body", "one"}),
      Node("acc_add", "AddV2", {"acc_switch:1", "i_body"}),
      Node("i_next", "NextIteration", {"i_add"}),
      Node("acc_next", "NextIteration", {"acc_add"}),
      Node("i_exit", "Exit", {"i_switch"}),
      Node("acc_exit", "Exit", {"acc_switch"}),
      Node("result", "Pack", {"i_exit", "acc_exit"}, {{"axis", {{"i", "0"}}}}),
  });
}

TEST_F(GraphInterpreterTest, WhileLoopRunsFramesAndIterations) {
  auto g = GraphModel::Load(Write(WhileLoopGraph()));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (int limit : {0, 1, 5, 40}) {
    auto r = g.value()->Run({{"limit", HostTensor::Int({}, {limit})}}, {"result"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r.value()[0].ints.size(), 2u);
    EXPECT_EQ(r.value()[0].ints[0], limit);
    EXPECT_EQ(r.value()[0].ints[1], limit * (limit - 1) / 2) << "limit " << limit;
  }
}

// tf.map_fn as TF v1 writes it: the batch unstacked into a TensorList, a while loop that
// reads item i, doubles it and writes it into a reserved list, then the list stacked.
TEST_F(GraphInterpreterTest, TensorListMapOverBatch) {
  const json nodes = json::array({
      Placeholder("x", "DT_FLOAT"),
      IntConst("shape", {1}, {2}),
      IntConst("unknown", {}, {-1}),
      IntConst("zero", {}, {0}),
      IntConst("begin", {1}, {0}),
      IntConst("size1", {1}, {1}),
      Node("shape_x", "Shape", {"x"}),
      Node("first_dim", "Slice", {"shape_x", "begin", "size1"}),
      Node("count", "Squeeze", {"first_dim"}),
      Node("items", "TensorListFromTensor", {"x", "shape"},
           {{"element_dtype", {{"type", "DT_FLOAT"}}}}),
      Node("out", "TensorListReserve", {"unknown", "count"},
           {{"element_dtype", {{"type", "DT_FLOAT"}}}}),
      Node("i_enter", "Enter", {"zero"}, Frame("map")),
      Node("out_enter", "Enter", {"out"}, Frame("map")),
      Node("items_enter", "Enter", {"items"}, Frame("map", true)),
      Node("count_enter", "Enter", {"count"}, Frame("map", true)),
      Node("i_merge", "Merge", {"i_enter", "i_next"}),
      Node("out_merge", "Merge", {"out_enter", "out_next"}),
      Node("less", "Less", {"i_merge", "count_enter"}),
      Node("cond", "LoopCond", {"less"}),
      Node("i_switch", "Switch", {"i_merge", "cond"}),
      Node("out_switch", "Switch", {"out_merge", "cond"}),
      Node("i_body", "Identity", {"i_switch:1"}),
      Node("item", "TensorListGetItem", {"items_enter", "i_body", "shape"},
           {{"element_dtype", {{"type", "DT_FLOAT"}}}}),
      FloatConst("two", {}, {2}, {"^i_body"}),
      Node("doubled", "Mul", {"item", "two"}),
      Node("written", "TensorListSetItem", {"out_switch:1", "i_body", "doubled"},
           {{"element_dtype", {{"type", "DT_FLOAT"}}}}),
      IntConst("one", {}, {1}, {"^i_body"}),
      Node("i_add", "AddV2", {"i_body", "one"}),
      Node("i_next", "NextIteration", {"i_add"}),
      Node("out_next", "NextIteration", {"written"}),
      Node("out_exit", "Exit", {"out_switch"}),
      Node("stacked", "TensorListStack", {"out_exit", "shape"},
           {{"element_dtype", {{"type", "DT_FLOAT"}}}}),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (int batch : {1, 3}) {
    std::vector<float> values;
    for (int i = 0; i < batch * 2; ++i) values.push_back(static_cast<float>(i) - 1.5f);
    auto r = g.value()->Run({{"x", HostTensor::Float({batch, 2}, values)}}, {"stacked"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].shape, (std::vector<int64_t>{batch, 2}));
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(r.value()[0].floats[i], 2 * values[i]) << "batch " << batch;
  }
}

TEST_F(GraphInterpreterTest, SwitchAndMergeTakeOneBranch) {
  const json nodes = json::array({
      Placeholder("x", "DT_FLOAT"),
      Placeholder("p", "DT_BOOL"),
      FloatConst("two", {}, {2}),
      FloatConst("one", {}, {1}),
      Node("sw", "Switch", {"x", "p"}),
      Node("t", "Mul", {"sw:1", "two"}),
      Node("f", "AddV2", {"sw", "one"}),
      Node("m", "Merge", {"f", "t"}),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  HostTensor yes = HostTensor::Int({}, {1});
  yes.dtype = HostTensor::DType::kBool;
  HostTensor no = HostTensor::Int({}, {0});
  no.dtype = HostTensor::DType::kBool;
  auto taken = g.value()->Run({{"x", HostTensor::Float({}, {3})}, {"p", yes}}, {"m", "m:1"});
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken.value()[0].floats[0], 6.0f);
  EXPECT_EQ(taken.value()[1].ints[0], 1);
  auto other = g.value()->Run({{"x", HostTensor::Float({}, {3})}, {"p", no}}, {"m", "m:1"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other.value()[0].floats[0], 4.0f);
  EXPECT_EQ(other.value()[1].ints[0], 0);
  // The untaken branch's node is never computed: asking for it is an error, not garbage.
  auto dead = g.value()->Run({{"x", HostTensor::Float({}, {3})}, {"p", no}}, {"t"});
  ASSERT_FALSE(dead.ok());
  EXPECT_NE(dead.status().message().find("untaken branch"), std::string::npos)
      << dead.status().ToString();
}

// Brute-force TF SAME convolution / max pooling on a [1,H,W,1] image.
float Window(const std::vector<float>& x, int h, int w, int r0, int c0, int k, bool max) {
  float acc = max ? -INFINITY : 0;
  for (int r = r0; r < r0 + k; ++r) {
    for (int c = c0; c < c0 + k; ++c) {
      if (r < 0 || c < 0 || r >= h || c >= w) continue;  // padding: 0 for conv, ignored for max
      acc = max ? std::max(acc, x[static_cast<size_t>(r * w + c)])
                : acc + x[static_cast<size_t>(r * w + c)];
    }
  }
  return acc;
}

TEST_F(GraphInterpreterTest, SamePaddingIsAsymmetricWithStrideTwo) {
  // in 6, k 3, s 2: out 3, total padding 1 -> 0 before, 1 after (libtorch's symmetric
  // padding would shift every window by one).
  const int h = 6, w = 6, k = 3, s = 2;
  std::vector<float> image(static_cast<size_t>(h * w));
  for (int i = 0; i < h * w; ++i)
    image[static_cast<size_t>(i)] = -static_cast<float>((i * 7) % 11) - 1.0f;
  const json conv_attr = {{"strides", IntList({1, s, s, 1})},
                          {"padding", Str("SAME")},
                          {"data_format", Str("NHWC")},
                          {"dilations", IntList({1, 1, 1, 1})}};
  json pool_attr = conv_attr;
  pool_attr.erase("dilations");
  pool_attr["ksize"] = IntList({1, k, k, 1});
  json conv_fused = conv_attr;
  conv_fused["fused_ops"] = {{"list", {{"s", {Base64("BiasAdd")}}}}};
  conv_fused["num_args"] = {{"i", "1"}};
  const json nodes = json::array({
      Placeholder("x", "DT_FLOAT"),
      FloatConst("filter", {k, k, 1, 1}, std::vector<float>(k * k, 1.0f)),
      FloatConst("bias", {1}, {0.5f}),
      Node("conv", "Conv2D", {"x", "filter"}, conv_attr),
      Node("fused", "_FusedConv2D", {"x", "filter", "bias"}, conv_fused),
      Node("pool", "MaxPool", {"x"}, pool_attr),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto r =
      g.value()->Run({{"x", HostTensor::Float({1, h, w, 1}, image)}}, {"conv", "fused", "pool"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r.value()[0].shape, (std::vector<int64_t>{1, 3, 3, 1}));
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const size_t at = static_cast<size_t>(i * 3 + j);
      EXPECT_FLOAT_EQ(r.value()[0].floats[at], Window(image, h, w, i * s, j * s, k, false))
          << i << "," << j;
      EXPECT_FLOAT_EQ(r.value()[1].floats[at], Window(image, h, w, i * s, j * s, k, false) + 0.5f)
          << i << "," << j;
      EXPECT_FLOAT_EQ(r.value()[2].floats[at], Window(image, h, w, i * s, j * s, k, true))
          << i << "," << j;
    }
  }
}

// Brute-force TF SAME convolution on NHWC [1,H,W,C]: a regular conv (filter [k,k,C,O]) or
// a depthwise one (filter [k,k,C,1], O = C), with bias and an optional clamp to [0, 6].
std::vector<float> BruteConv(const std::vector<float>& x, int h, int w, int c, const std::vector<float>& filter,
                             int k, int out_c, int s, bool depthwise, const std::vector<float>& bias, bool relu6) {
  const int oh = (h + s - 1) / s, ow = (w + s - 1) / s;
  const int pad_h = std::max((oh - 1) * s + k - h, 0) / 2, pad_w = std::max((ow - 1) * s + k - w, 0) / 2;
  std::vector<float> out(static_cast<size_t>(oh * ow * out_c));
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) {
      for (int o = 0; o < out_c; ++o) {
        double acc = bias[static_cast<size_t>(o)];
        for (int r = 0; r < k; ++r) {
          for (int q = 0; q < k; ++q) {
            const int y = i * s - pad_h + r, xx = j * s - pad_w + q;
            if (y < 0 || xx < 0 || y >= h || xx >= w) continue;
            for (int ci = 0; ci < c; ++ci) {
              if (depthwise && ci != o) continue;
              const float f = depthwise ? filter[static_cast<size_t>((r * k + q) * c + ci)]
                                        : filter[static_cast<size_t>(((r * k + q) * c + ci) * out_c + o)];
              acc += static_cast<double>(x[static_cast<size_t>((y * w + xx) * c + ci)]) * f;
            }
          }
        }
        const float v = static_cast<float>(acc);
        out[static_cast<size_t>((i * ow + j) * out_c + o)] = relu6 ? std::min(std::max(v, 0.0f), 6.0f) : v;
      }
    }
  }
  return out;
}

std::vector<float> Ramp(size_t n, int mod, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>((i * 7 + 3) % mod)) * scale + offset;
  return v;
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << what << " at " << i;
}

// The direct depthwise kernel: stride 2 with asymmetric SAME padding, a channel count that
// is not a multiple of the SIMD width, bias and the Relu6 clamp on both sides of the range.
TEST_F(GraphInterpreterTest, DepthwiseConvsMatchBruteForce) {
  const int h = 7, w = 6, c = 5, k = 3;
  const std::vector<float> image = Ramp(static_cast<size_t>(h * w * c), 13, 0.9f, -4.0f);
  const std::vector<float> filter = Ramp(static_cast<size_t>(k * k * c), 5, 0.6f, -0.9f);
  const std::vector<float> bias = {0.5f, -1.0f, 2.0f, 0.0f, 3.0f};
  json attr = {{"strides", IntList({1, 2, 2, 1})},
               {"padding", Str("SAME")},
               {"data_format", Str("NHWC")},
               {"dilations", IntList({1, 1, 1, 1})}};
  json fused = attr;
  fused["fused_ops"] = {{"list", {{"s", {Base64("BiasAdd"), Base64("Relu6")}}}}};
  fused["num_args"] = {{"i", "1"}};
  json stride1 = attr;
  stride1["strides"] = IntList({1, 1, 1, 1});
  const json nodes = json::array({
      Placeholder("x", "DT_FLOAT"),
      FloatConst("filter", {k, k, c, 1}, filter),
      FloatConst("bias", {c}, bias),
      Node("plain", "DepthwiseConv2dNative", {"x", "filter"}, attr),
      Node("fused", "FusedDepthwiseConv2dNative", {"x", "filter", "bias"}, fused),
      Node("stride1", "DepthwiseConv2dNative", {"x", "filter"}, stride1),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto r = g.value()->Run({{"x", HostTensor::Float({1, h, w, c}, image)}}, {"plain", "fused", "stride1"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<float> zero(c, 0.0f);
  ASSERT_EQ(r.value()[0].shape, (std::vector<int64_t>{1, 4, 3, c}));
  ExpectNear(r.value()[0].floats, BruteConv(image, h, w, c, filter, k, c, 2, true, zero, false), "plain");
  const std::vector<float> want_fused = BruteConv(image, h, w, c, filter, k, c, 2, true, bias, true);
  ExpectNear(r.value()[1].floats, want_fused, "fused");
  int clamped_low = 0, clamped_high = 0;
  for (float v : want_fused) {
    clamped_low += v == 0.0f;
    clamped_high += v == 6.0f;
  }
  EXPECT_GT(clamped_low, 0);  // the test data reach both ends of the clamp
  EXPECT_GT(clamped_high, 0);
  ExpectNear(r.value()[2].floats, BruteConv(image, h, w, c, filter, k, c, 1, true, zero, false), "stride 1");
}

// A regular conv followed by a constant add and Relu6, as the landmark net is exported: run
// fused when only the Relu6 output is asked for, unfused when an intermediate is too; both
// equal the brute-force result.
TEST_F(GraphInterpreterTest, ConvAddRelu6ChainsGiveTheSameResultFusedOrNot) {
  const int h = 5, w = 6, c = 3, o = 4, k = 3;
  const std::vector<float> image = Ramp(static_cast<size_t>(h * w * c), 11, 0.8f, -3.0f);
  const std::vector<float> filter = Ramp(static_cast<size_t>(k * k * c * o), 7, 0.3f, -0.8f);
  const std::vector<float> bias = {1.5f, -2.0f, 0.25f, 4.0f};
  const json attr = {{"strides", IntList({1, 1, 1, 1})},
                     {"padding", Str("SAME")},
                     {"data_format", Str("NHWC")},
                     {"dilations", IntList({1, 1, 1, 1})}};
  const json nodes = json::array({
      Placeholder("x", "DT_FLOAT"),
      FloatConst("filter", {k, k, c, o}, filter),
      FloatConst("bias", {o}, bias),
      Node("conv", "Conv2D", {"x", "filter"}, attr),
      Node("add", "AddV2", {"conv", "bias"}),
      Node("act", "Relu6", {"add"}),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const auto input = HostTensor::Float({1, h, w, c}, image);
  auto fused = g.value()->Run({{"x", input}}, {"act"});
  ASSERT_TRUE(fused.ok()) << fused.status().ToString();
  auto unfused = g.value()->Run({{"x", input}}, {"act", "add"});
  ASSERT_TRUE(unfused.ok()) << unfused.status().ToString();
  const std::vector<float> want = BruteConv(image, h, w, c, filter, k, o, 1, false, bias, true);
  ExpectNear(fused.value()[0].floats, want, "fused chain");
  ExpectNear(unfused.value()[0].floats, want, "unfused chain");
  ExpectNear(unfused.value()[1].floats, BruteConv(image, h, w, c, filter, k, o, 1, false, bias, false), "add");
}

TEST_F(GraphInterpreterTest, DecodesQuantisedAndHalfWeights) {
  // uint8: q * scale + min in double, then float32; float16: exact.
  const double scale = 0.0123456789, min = -1.25;
  const std::string q = std::string("\x00\x01\x80\xff", 4);
  const uint16_t halves[3] = {0x3C00, 0xC000, 0x3555};
  std::string bin = q;
  bin.append(reinterpret_cast<const char*>(halves), sizeof halves);
  const int32_t ints[2] = {-7, 123456};
  bin.append(reinterpret_cast<const char*>(ints), sizeof ints);
  const json manifest =
      json::array({{{"paths", {"model.bin"}},
                    {"weights",
                     {{{"name", "q"},
                       {"shape", {4}},
                       {"dtype", "float32"},
                       {"quantization", {{"dtype", "uint8"}, {"scale", scale}, {"min", min}}}},
                      {{"name", "h"},
                       {"shape", {3}},
                       {"dtype", "float32"},
                       {"quantization", {{"dtype", "float16"}, {"original_dtype", "float32"}}}},
                      {{"name", "i"}, {"shape", {2}}, {"dtype", "int32"}}}}}});
  const json nodes = json::array({Node("q", "Const", {}, {{"dtype", {{"type", "DT_FLOAT"}}}}),
                                  Node("h", "Const", {}, {{"dtype", {{"type", "DT_FLOAT"}}}}),
                                  Node("i", "Const", {}, {{"dtype", {{"type", "DT_INT32"}}}})});
  auto g = GraphModel::Load(Write(nodes, manifest, bin));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto r = g.value()->Run({}, {"q", "h", "i"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const int qs[4] = {0, 1, 128, 255};
  for (int k = 0; k < 4; ++k)
    EXPECT_EQ(r.value()[0].floats[static_cast<size_t>(k)], static_cast<float>(qs[k] * scale + min));
  EXPECT_EQ(r.value()[1].floats, (std::vector<float>{1.0f, -2.0f, 0.333251953125f}));
  EXPECT_EQ(r.value()[2].ints, (std::vector<int32_t>{-7, 123456}));
}

TEST_F(GraphInterpreterTest, TopKIsSortedWithTiesByLowerIndex) {
  const json nodes = json::array({Placeholder("x", "DT_FLOAT"), IntConst("k", {}, {4}),
                                  Node("top", "TopKV2", {"x", "k"}, {{"sorted", {{"b", true}}}})});
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto r = g.value()->Run({{"x", HostTensor::Float({6}, {1, 3, 2, 3, 0, 2})}}, {"top", "top:1"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].floats, (std::vector<float>{3, 3, 2, 2}));
  EXPECT_EQ(r.value()[1].ints, (std::vector<int32_t>{1, 3, 2, 5}));
}

TEST_F(GraphInterpreterTest, StridedSliceMasks) {
  // x[1:, ..., ::-1, newaxis] on [3, 2, 4], then x[:, 1] (shrink).
  auto slice = [](const std::string& name, const std::string& in, const std::string& b,
                  const std::string& e, const std::string& s, int begin_mask, int end_mask,
                  int ellipsis, int new_axis, int shrink) {
    return Node(name, "StridedSlice", {in, b, e, s},
                {{"begin_mask", {{"i", std::to_string(begin_mask)}}},
                 {"end_mask", {{"i", std::to_string(end_mask)}}},
                 {"ellipsis_mask", {{"i", std::to_string(ellipsis)}}},
                 {"new_axis_mask", {{"i", std::to_string(new_axis)}}},
                 {"shrink_axis_mask", {{"i", std::to_string(shrink)}}}});
  };
  const json nodes = json::array({
      Placeholder("x", "DT_INT32"),
      IntConst("b1", {4}, {1, 0, 0, 0}),
      IntConst("e1", {4}, {0, 0, 0, 0}),
      IntConst("s1", {4}, {1, 1, -1, 1}),
      slice("a", "x", "b1", "e1", "s1", /*begin*/ 0b0100, /*end*/ 0b0101, /*ellipsis*/ 0b0010,
            /*new*/ 0b1000, 0),
      IntConst("b2", {2}, {0, 1}),
      IntConst("e2", {2}, {0, 2}),
      IntConst("s2", {2}, {1, 1}),
      slice("b", "x", "b2", "e2", "s2", 0b01, 0b01, 0, 0, 0b10),
  });
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::vector<int32_t> values(24);
  for (int i = 0; i < 24; ++i) values[static_cast<size_t>(i)] = i;
  auto r = g.value()->Run({{"x", HostTensor::Int({3, 2, 4}, values)}}, {"a", "b"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].shape, (std::vector<int64_t>{2, 2, 4, 1}));
  EXPECT_EQ(r.value()[0].ints[0], 11);  // x[1, 0, 3]
  EXPECT_EQ(r.value()[0].ints[3], 8);   // x[1, 0, 0]
  EXPECT_EQ(r.value()[1].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(r.value()[1].ints[0], 4);   // x[0, 1, 0]
  EXPECT_EQ(r.value()[1].ints[4], 12);  // x[1, 1, 0]
}

TEST_F(GraphInterpreterTest, UnknownOpNamesTheOpAndTheNode) {
  const json nodes = json::array({Placeholder("x", "DT_FLOAT"), Node("strange", "FancyOp", {"x"}),
                                  Node("unused", "OtherOp", {"x"}), Node("fine", "Abs", {"x"})});
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << "unknown ops only matter when executed: " << g.status().ToString();
  // A node that does not need the unknown op runs.
  EXPECT_EQ(RunFloats(*g.value(), {{"x", HostTensor::Float({1}, {-2})}}, "fine"),
            std::vector<float>{2});
  auto r = g.value()->Run({{"x", HostTensor::Float({1}, {1})}}, {"strange"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("FancyOp"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("strange"), std::string::npos) << r.status().ToString();
}

TEST_F(GraphInterpreterTest, BadFilesAreClearErrors) {
  const json manifest =
      json::array({{{"paths", {"model.bin"}},
                    {"weights", {{{"name", "w"}, {"shape", {4}}, {"dtype", "float32"}}}}}});
  const json nodes = json::array({Node("w", "Const", {}, {{"dtype", {{"type", "DT_FLOAT"}}}})});
  // Missing weights file.
  auto missing = GraphModel::Load(Write(nodes, manifest));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("model.bin"), std::string::npos)
      << missing.status().ToString();
  // Short weights file: 8 of 16 bytes.
  auto short_file = GraphModel::Load(Write(nodes, manifest, std::string(8, '\0')));
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find("model.bin"), std::string::npos)
      << short_file.status().ToString();
  EXPECT_NE(short_file.status().message().find("too short"), std::string::npos)
      << short_file.status().ToString();
  // Malformed JSON.
  const fs::path broken = dir_ / "broken.json";
  std::ofstream(broken) << "{\"modelTopology\": {\"node\": [";
  auto malformed = GraphModel::Load(broken.string());
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("broken.json"), std::string::npos)
      << malformed.status().ToString();
  // An input naming a node that does not exist.
  auto dangling = GraphModel::Load(Write(json::array({Node("a", "Abs", {"nowhere:0"})})));
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.status().message().find("nowhere"), std::string::npos)
      << dangling.status().ToString();
  // Missing model file.
  auto absent = GraphModel::Load((dir_ / "absent.json").string());
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find("absent.json"), std::string::npos);
}

TEST_F(GraphInterpreterTest, ResizeBilinearHalfPixelCenters) {
  const json nodes = json::array(
      {Placeholder("x", "DT_FLOAT"), IntConst("size", {2}, {4, 4}),
       Node("up", "ResizeBilinear", {"x", "size"},
            {{"align_corners", {{"b", false}}}, {"half_pixel_centers", {{"b", true}}}})});
  auto g = GraphModel::Load(Write(nodes));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const std::vector<float> out =
      RunFloats(*g.value(), {{"x", HostTensor::Float({1, 2, 2, 1}, {0, 1, 2, 3})}}, "up");
  ASSERT_EQ(out.size(), 16u);
  // Row 0 samples source row -0.25 (clamped), row 1 row 0.25; columns likewise.
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_FLOAT_EQ(out[1], 0.25f);
  EXPECT_FLOAT_EQ(out[5], 0.25f * 2 + 0.25f);
  EXPECT_FLOAT_EQ(out[15], 3.0f);
}

}  // namespace
}  // namespace farm::pose
