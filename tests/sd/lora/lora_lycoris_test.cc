// LyCORIS files: LoHa and LoKr merge with A1111's math (checked against independent
// double-precision products) and unmerge bit for bit; bad factors are named; kinds
// StudioFarm does not apply (GLoRA, DoRA, ...) are refused by name, alone or inside a LoRA.
#include "lora_formats_fixture.h"

#include <cmath>
#include <vector>

namespace farm::sd {
namespace {

using testing::ChangedKeys;
using testing::DeepCopy;

// Files holding only kinds StudioFarm does not apply are refused by name.
TEST_F(LoraFormatsTest, GloraAndDoraFilesAreRefusedByName) {
  const std::string proj_in = "lora_unet_down_blocks_0_attentions_0_proj_in";
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  const TensorMap glora = {
      {proj_in + ".a1.weight", at::ones({2, 16})}, {proj_in + ".a2.weight", at::ones({16, 2})},
      {proj_in + ".b1.weight", at::ones({2, 16})}, {proj_in + ".b2.weight", at::ones({16, 2})},
      {proj_in + ".alpha", at::scalar_tensor(1.0)},
      {conv1 + ".a1.weight", at::ones({2, 16})},   {conv1 + ".a2.weight", at::ones({16, 2})}};
  const TensorMap dora = {{"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", at::ones({2, 16, 1, 1})},
                          {"unet.down_blocks.0.attentions.0.proj_in.lora_B.weight", at::ones({16, 2, 1, 1})},
                          {"unet.down_blocks.0.attentions.0.proj_in.lora_magnitude_vector", at::ones({16})}};
  for (const auto& [name, tensors, kind, module] :
       {std::tuple{"glora.safetensors", glora, "this is a GLoRA (LyCORIS) file (2 module(s)", proj_in},
        std::tuple{"dora.safetensors", dora, "this is a DoRA file (1 module(s)",
                   std::string("unet.down_blocks.0.attentions.0.proj_in")}}) {
    const std::string path = testing::ScratchPath("lora_formats", name);
    ASSERT_TRUE(WriteSafetensors(path, tensors, {{"ss_network_module", "lycoris.kohya"}}).ok());
    auto read = ReadLoraFile(path);
    ASSERT_FALSE(read.ok()) << name;
    const std::string& message = read.status().message();
    EXPECT_NE(message.find(path + ": " + kind), std::string::npos) << message;
    EXPECT_NE(message.find(module), std::string::npos) << message;
    EXPECT_NE(message.find("StudioFarm applies LoRA and LoCon"), std::string::npos) << message;
  }
}

// Independent double-precision references for the LyCORIS products (A1111's formulas,
// written without einsum or kron).
at::Tensor D(const at::Tensor& t) { return t.to(at::kDouble); }

// cp(t, wa, wb)[o,i,k,l] = sum_{r,s} t[r,s,k,l] wa[r,o] wb[s,i].
at::Tensor TuckerDouble(const at::Tensor& t, const at::Tensor& wa, const at::Tensor& wb) {
  at::Tensor per_tap = at::matmul(at::matmul(D(wa).t(), D(t).permute({2, 3, 0, 1})), D(wb));
  return per_tap.permute({2, 3, 0, 1});  // [k,l,o,i] -> [o,i,k,l]
}

// kron(a [p,q], b [c,d(,k,l)]) -> [p*c, q*d(,k,l)].
at::Tensor KronDouble(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = D(a), y = D(b);
  if (y.dim() == 2) {
    return (x.view({x.size(0), 1, x.size(1), 1}) * y.view({1, y.size(0), 1, y.size(1)}))
        .reshape({x.size(0) * y.size(0), x.size(1) * y.size(1)});
  }
  return (x.view({x.size(0), 1, x.size(1), 1, 1, 1}) *
          y.view({1, y.size(0), 1, y.size(1), y.size(2), y.size(3)}))
      .reshape({x.size(0) * y.size(0), x.size(1) * y.size(1), y.size(2), y.size(3)});
}

struct LycorisCase {
  std::string module;    // diffusers module path in the UNet
  TensorMap factors;     // by factor name
  double alpha;          // < 0: no alpha tensor
  at::Tensor product;    // the expected unscaled product, double, any shape of the weight's size
  double scale;          // alpha / rank as A1111 computes it
};

// Writes the cases as one file, merges it, checks every weight against
// W + multiplier * scale * product, then that unmerging restores the model bit for bit.
void CheckLycorisMerge(SdWeights& weights, const std::vector<LycorisCase>& cases, const std::string& name,
                       LoraModuleKind kind) {
  TensorMap tensors;
  for (const LycorisCase& c : cases) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, c.module);
    for (const auto& [factor, tensor] : c.factors) tensors[kohya + "." + factor] = tensor;
    if (c.alpha >= 0) tensors[kohya + ".alpha"] = at::scalar_tensor(c.alpha);
  }
  const std::string path = testing::ScratchPath("lora_formats", name);
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"ss_network_module", "lycoris.kohya"}}).ok());
  auto lora = ReadLoraFile(path);
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_TRUE(lora->problems.empty()) << FormatLoraIssue(lora->problems.front());
  ASSERT_EQ(lora->modules.size(), cases.size());
  for (const LoraModule& module : lora->modules) EXPECT_EQ(module.kind, kind) << module.name;

  const TensorMap unet = DeepCopy(weights.unet);
  const double multiplier = 0.6;
  auto merged = MergeLoras(weights, {{&*lora, multiplier}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  for (const LycorisCase& c : cases) {
    const at::Tensor& before = unet.at(c.module + ".weight");
    const at::Tensor expected =
        D(before) + multiplier * c.scale * c.product.reshape(before.sizes());
    EXPECT_LE(testing::MaxAbsDiff(weights.unet.at(c.module + ".weight"), expected), 1e-6) << c.module;
  }
  EXPECT_EQ(ChangedKeys(unet, weights.unet).size(), cases.size());
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, weights.unet).empty());
}


// LoHa: (w1_a @ w1_b) * (w2_a @ w2_b), or Tucker cores for convs; scale alpha / w1_b rows.
TEST_F(LoraFormatsTest, LohaModulesMergeWithA1111MathAndRestoreExactly) {
  at::manual_seed(21);
  auto r = [](std::vector<int64_t> shape) { return 0.5 * at::randn(shape); };
  std::vector<LycorisCase> cases;
  {  // a linear layer
    TensorMap f = {{"hada_w1_a", r({16, 2})}, {"hada_w1_b", r({2, 32})},
                   {"hada_w2_a", r({16, 2})}, {"hada_w2_b", r({2, 32})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", f, 1.0, product, 0.5});
  }
  {  // a 1x1 conv from 2-D factors (no alpha: scale 1)
    TensorMap f = {{"hada_w1_a", r({16, 3})}, {"hada_w1_b", r({3, 16})},
                   {"hada_w2_a", r({16, 3})}, {"hada_w2_b", r({3, 16})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.attentions.0.proj_in", f, -1, product, 1.0});
  }
  {  // a 3x3 conv with flattened w_b [r, in*3*3]
    TensorMap f = {{"hada_w1_a", r({16, 4})}, {"hada_w1_b", r({4, 16 * 9})},
                   {"hada_w2_a", r({16, 4})}, {"hada_w2_b", r({4, 16 * 9})}};
    at::Tensor product = at::matmul(D(f["hada_w1_a"]), D(f["hada_w1_b"])) *
                         at::matmul(D(f["hada_w2_a"]), D(f["hada_w2_b"]));
    cases.push_back({"down_blocks.0.resnets.0.conv1", f, 2.0, product, 0.5});
  }
  {  // a 3x3 conv with Tucker cores (use_tucker)
    TensorMap f = {{"hada_w1_a", r({2, 16})}, {"hada_w1_b", r({2, 16})}, {"hada_t1", r({2, 2, 3, 3})},
                   {"hada_w2_a", r({2, 16})}, {"hada_w2_b", r({2, 16})}, {"hada_t2", r({2, 2, 3, 3})}};
    at::Tensor product = TuckerDouble(f["hada_t1"], f["hada_w1_a"], f["hada_w1_b"]) *
                         TuckerDouble(f["hada_t2"], f["hada_w2_a"], f["hada_w2_b"]);
    cases.push_back({"down_blocks.0.resnets.0.conv2", f, 1.0, product, 0.5});
  }
  CheckLycorisMerge(weights_, cases, "loha.safetensors", LoraModuleKind::kLoha);
}

// LoKr: kron(w1, w2) with full or low-rank factors, a 4-D w2 for convs, or a Tucker w2.
TEST_F(LoraFormatsTest, LokrModulesMergeWithA1111MathAndRestoreExactly) {
  at::manual_seed(22);
  auto r = [](std::vector<int64_t> shape) { return 0.5 * at::randn(shape); };
  std::vector<LycorisCase> cases;
  {  // full w1, low-rank w2: scale alpha / w2_b rows
    TensorMap f = {{"lokr_w1", r({4, 4})}, {"lokr_w2_a", r({4, 2})}, {"lokr_w2_b", r({2, 8})}};
    at::Tensor product = KronDouble(f["lokr_w1"], at::matmul(D(f["lokr_w2_a"]), D(f["lokr_w2_b"])));
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", f, 1.0, product, 0.5});
  }
  {  // both full: no rank, scale 1 whatever alpha says
    TensorMap f = {{"lokr_w1", r({2, 4})}, {"lokr_w2", r({8, 4})}};
    at::Tensor product = KronDouble(f["lokr_w1"], f["lokr_w2"]);
    cases.push_back({"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", f, 5.0, product, 1.0});
  }
  {  // a 3x3 conv: low-rank w1 (scale alpha / w1_b rows), 4-D w2
    TensorMap f = {{"lokr_w1_a", r({4, 1})}, {"lokr_w1_b", r({1, 4})}, {"lokr_w2", r({4, 4, 3, 3})}};
    at::Tensor product = KronDouble(at::matmul(D(f["lokr_w1_a"]), D(f["lokr_w1_b"])), f["lokr_w2"]);
    cases.push_back({"down_blocks.0.resnets.0.conv1", f, 3.0, product, 3.0});
  }
  {  // a 3x3 conv with a Tucker w2
    TensorMap f = {{"lokr_w1", r({4, 4})}, {"lokr_t2", r({2, 2, 3, 3})}, {"lokr_w2_a", r({2, 4})},
                   {"lokr_w2_b", r({2, 4})}};
    at::Tensor product =
        KronDouble(f["lokr_w1"], TuckerDouble(f["lokr_t2"], f["lokr_w2_a"], f["lokr_w2_b"]));
    cases.push_back({"down_blocks.0.resnets.0.conv2", f, 1.0, product, 0.5});
  }
  {  // a 3x3 conv from a 2-D w2 [c, d*3*3], reshaped to the weight as A1111 does
    TensorMap f = {{"lokr_w1", r({8, 8})}, {"lokr_w2_a", r({4, 2})}, {"lokr_w2_b", r({2, 4 * 9})}};
    at::Tensor product = KronDouble(f["lokr_w1"], at::matmul(D(f["lokr_w2_a"]), D(f["lokr_w2_b"])));
    cases.push_back({"down_blocks.1.resnets.1.conv1", f, 2.0, product, 1.0});
  }
  CheckLycorisMerge(weights_, cases, "lokr.safetensors", LoraModuleKind::kLokr);
}

TEST_F(LoraFormatsTest, BadLycorisFactorsAreNamed) {
  const std::string to_k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
  const std::string to_q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  const TensorMap tensors = {
      // no hada_w2_b
      {to_k + ".hada_w1_a", at::ones({16, 2})}, {to_k + ".hada_w1_b", at::ones({2, 32})},
      {to_k + ".hada_w2_a", at::ones({16, 2})},
      // LoKr that gives [16, 12]: the weight is [16, 16]
      {to_q + ".lokr_w1", at::ones({4, 4})}, {to_q + ".lokr_w2", at::ones({4, 3})},
      // LoHa and LoKr at once
      {conv1 + ".hada_w1_a", at::ones({16, 2})}, {conv1 + ".lokr_w1", at::ones({4, 4})}};
  auto lora = LoraFromTensors(tensors, "bad_lycoris");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  ASSERT_EQ(lora->modules.size(), 1u);
  ASSERT_EQ(lora->problems.size(), 2u);
  EXPECT_EQ(lora->problems[0].name, to_k);
  EXPECT_NE(lora->problems[0].message.find("LoHa module without hada_w2_b"), std::string::npos);
  EXPECT_EQ(lora->problems[1].name, conv1);
  EXPECT_NE(lora->problems[1].message.find("mixes LoHa and LoKr factors"), std::string::npos);

  const TensorMap unet = DeepCopy(weights_.unet);
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(to_q + ": shape mismatch: weight unet/"
                                             "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight "
                                             "is [16, 16] but LoKr (LyCORIS) factors lokr_w1 [4, 4] lokr_w2 "
                                             "[4, 3] gives [16, 12]"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
}

// One LyCORIS or DoRA module in an otherwise plain LoRA: that module is a named problem,
// a strict merge refuses and changes nothing.
TEST_F(LoraFormatsTest, ForeignModulesInALoraFailAStrictMerge) {
  TensorMap tensors;
  for (const LoraModule& module : lora_.modules) {
    tensors[module.name + ".lora_down.weight"] = module.down;
    tensors[module.name + ".lora_up.weight"] = module.up;
  }
  const std::string conv1 = "lora_unet_down_blocks_0_resnets_0_conv1";
  tensors[conv1 + ".a1.weight"] = at::ones({2, 144});
  tensors[conv1 + ".a2.weight"] = at::ones({16, 2});
  tensors[conv1 + ".alpha"] = at::scalar_tensor(1.0);
  const std::string dora = lora_.modules.front().name;
  tensors[dora + ".dora_scale"] = at::ones({16, 1, 1, 1});
  auto lora = LoraFromTensors(tensors, "mixed");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_EQ(lora->modules.size(), lora_.modules.size() - 1);
  ASSERT_EQ(lora->problems.size(), 2u);

  const TensorMap unet = DeepCopy(weights_.unet);
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("mixed: " + conv1 + ": this is a GLoRA (LyCORIS) module; StudioFarm applies"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("mixed: " + dora + ": this is a DoRA module"), std::string::npos) << message;
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
}


}  // namespace
}  // namespace farm::sd
