// Descriptor distances against distances.json, computed from the descriptors stored in
// sample1..3.json (for every decoder's results).
#include "farm/faceid/similarity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "faceid_paths.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

using testing::FloatsOf;
using testing::ReadJsonFile;

TEST(Similarity, HandComputed) {
  const std::vector<float> a = {1, 2, 2}, b = {1, 0, 0}, zero = {0, 0, 0};
  EXPECT_DOUBLE_EQ(EuclideanDistance(a, b), std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(EuclideanDistance(a, a), 0.0);
  EXPECT_DOUBLE_EQ(CosineSimilarity(a, b), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(CosineSimilarity(a, a), 1.0);
  EXPECT_TRUE(std::isnan(CosineSimilarity(a, zero)));
  const std::vector<float> shorter = {1, 2};
  EXPECT_TRUE(std::isnan(EuclideanDistance(a, shorter)));
  EXPECT_TRUE(std::isnan(CosineSimilarity(a, shorter)));
}

TEST(Similarity, AccumulatesInDouble) {
  // 2^48 + 1 is exact in double but rounds to 2^48 in float32.
  const std::vector<float> a = {16777216.0f, 0.0f}, b = {0.0f, 1.0f};
  EXPECT_EQ(EuclideanDistance(a, b), std::sqrt(281474976710657.0));
  EXPECT_NE(EuclideanDistance(a, b), 16777216.0);
}

TEST(SimilarityReference, MatchesDistancesJsonForEveryDecoder) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  const auto distances = ReadJsonFile(reference + "/distances.json");
  std::map<std::string, nlohmann::json> samples;
  for (const char* name : {"sample1", "sample2", "sample3"}) {
    samples[name] = ReadJsonFile(reference + "/" + name + ".json");
  }
  double worst_euclid = 0, worst_cosine = 0;
  int checked = 0;
  for (const auto& [decoder, table] : distances["by_decoder"].items()) {
    std::vector<std::vector<float>> descriptors;
    for (const auto& label_json : table["labels"]) {
      const std::string label = label_json.get<std::string>();
      const size_t hash = label.find('#');
      ASSERT_NE(hash, std::string::npos) << label;
      const std::string sample = label.substr(0, hash);
      const int index = std::stoi(label.substr(hash + 1));
      const auto& faces = samples.at(sample)["results_by_decoder"][decoder]["faces"];
      const auto& face = faces.at(index);
      ASSERT_EQ(face["index"].get<int>(), index);
      descriptors.push_back(FloatsOf(face["descriptor"]));
      ASSERT_EQ(descriptors.back().size(), 128u);
    }
    for (size_t i = 0; i < descriptors.size(); ++i) {
      for (size_t j = 0; j < descriptors.size(); ++j) {
        const double e = EuclideanDistance(descriptors[i], descriptors[j]);
        const double c = CosineSimilarity(descriptors[i], descriptors[j]);
        worst_euclid = std::max(worst_euclid, std::abs(e - table["euclidean"][i][j].get<double>()));
        worst_cosine = std::max(worst_cosine, std::abs(c - table["cosine"][i][j].get<double>()));
        ++checked;
      }
    }
  }
  std::printf("%d pairs: max |euclidean diff| %.3g, max |cosine diff| %.3g\n", checked, worst_euclid,
              worst_cosine);
  EXPECT_EQ(checked, 3 * 81);
  EXPECT_LE(worst_euclid, 1e-12);
  EXPECT_LE(worst_cosine, 1e-12);
}

TEST(SimilarityReference, PrimaryMatrixIsTheJpegJsOne) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  const auto distances = ReadJsonFile(reference + "/distances.json");
  const auto sample1 = ReadJsonFile(reference + "/sample1.json");
  // Top-level faces are the primary decoder's: distance sample1#0 - sample1#1.
  const std::vector<float> a = FloatsOf(sample1["faces"][0]["descriptor"]);
  const std::vector<float> b = FloatsOf(sample1["faces"][1]["descriptor"]);
  EXPECT_NEAR(EuclideanDistance(a, b), distances["euclidean"][0][1].get<double>(), 1e-12);
  EXPECT_NEAR(CosineSimilarity(a, b), distances["cosine"][0][1].get<double>(), 1e-12);
}

}  // namespace
}  // namespace farm::faceid
