// ScoreFaces and IdentityReference on hand-made descriptors: per-face means over the
// reference, best-face choice for each metric, the no-face and cannot-compare cases.
#include "farm/faceid/face_score.h"

#include <gtest/gtest.h>

#include <cmath>

namespace farm::faceid {
namespace {

// Unit vectors at angle `degrees` in the plane of the first two axes.
Descriptor At(double degrees, float length = 1.0f) {
  const double r = degrees * M_PI / 180.0;
  return {static_cast<float>(length * std::cos(r)), static_cast<float>(length * std::sin(r)), 0.0f};
}

TEST(MetricNames, RoundTripAndDirection) {
  EXPECT_EQ(MetricName(Metric::kCosine), "cosine");
  EXPECT_EQ(MetricName(Metric::kEuclidean), "euclidean");
  EXPECT_EQ(ParseMetric("cosine"), Metric::kCosine);
  EXPECT_EQ(ParseMetric("euclidean"), Metric::kEuclidean);
  EXPECT_FALSE(ParseMetric("Cosine").has_value());
  EXPECT_TRUE(HigherIsBetter(Metric::kCosine));
  EXPECT_FALSE(HigherIsBetter(Metric::kEuclidean));
}

TEST(IdentityReference, MeanIsElementWise) {
  IdentityReference identity{{{1, 2, 3}, {3, 2, 1}, {2, 2, 2}}};
  EXPECT_EQ(identity.mean(), (Descriptor{2, 2, 2}));
  EXPECT_TRUE(IdentityReference{}.mean().empty());
  EXPECT_TRUE((IdentityReference{{{1, 2}, {1, 2, 3}}}.mean().empty()));
}

TEST(FaceValue, IsTheMeanOverTheReferenceDescriptors) {
  // References at 0 and 90 degrees; a face at 0 degrees: cosines 1 and 0, distances 0 and
  // sqrt(2). Not the value against the mean descriptor (cos 45 = 0.707...).
  IdentityReference identity{{At(0), At(90)}};
  EXPECT_NEAR(*FaceValue(At(0), identity, Metric::kCosine), 0.5, 1e-7);
  EXPECT_NEAR(*FaceValue(At(0), identity, Metric::kEuclidean), std::sqrt(2.0) / 2, 1e-7);
  // Cosine ignores the descriptors' lengths; Euclidean does not.
  EXPECT_NEAR(*FaceValue(At(0, 3.0f), identity, Metric::kCosine), 0.5, 1e-7);
  EXPECT_NEAR(*FaceValue(At(0, 3.0f), identity, Metric::kEuclidean), (2.0 + std::sqrt(10.0)) / 2, 1e-6);
  EXPECT_FALSE(FaceValue(At(0), IdentityReference{}, Metric::kCosine).has_value());
  EXPECT_FALSE(FaceValue({1, 0}, identity, Metric::kEuclidean).has_value());
  EXPECT_FALSE(FaceValue({0, 0, 0}, identity, Metric::kCosine).has_value());
}

TEST(ScoreFaces, PicksTheBestFaceForEachMetric) {
  IdentityReference identity{{At(10), At(20)}};
  // Face 1 points the same way as the identity but is long; face 2 is short and close in
  // angle too. Cosine ignores length: face 1 (exactly between the references) wins.
  // Euclidean: face 2 (angle 12, length 1) is nearer than the long face 1.
  const std::vector<Descriptor> faces = {At(90), At(15, 2.0f), At(12)};
  const FaceScore cosine = ScoreFaces(faces, identity, Metric::kCosine);
  ASSERT_TRUE(cosine.similarity.has_value());
  EXPECT_EQ(cosine.best_face, 1);
  EXPECT_EQ(cosine.faces_found, 3);
  EXPECT_TRUE(cosine.reason.empty());
  EXPECT_NEAR(*cosine.similarity, std::cos(5 * M_PI / 180), 1e-6);

  const FaceScore euclidean = ScoreFaces(faces, identity, Metric::kEuclidean);
  ASSERT_TRUE(euclidean.similarity.has_value());
  EXPECT_EQ(euclidean.best_face, 2);
  EXPECT_EQ(euclidean.faces_found, 3);
  const double d10 = 2 * std::sin(1 * M_PI / 180), d20 = 2 * std::sin(4 * M_PI / 180);
  EXPECT_NEAR(*euclidean.similarity, (d10 + d20) / 2, 1e-6);
}

TEST(ScoreFaces, TiesKeepTheFirstFace) {
  IdentityReference identity{{At(0)}};
  const FaceScore score = ScoreFaces({At(30), At(-30)}, identity, Metric::kCosine);
  EXPECT_EQ(score.best_face, 0);
}

TEST(ScoreFaces, NoFaceHasNoSimilarityAndSaysWhy) {
  IdentityReference identity{{At(0)}};
  for (Metric metric : {Metric::kCosine, Metric::kEuclidean}) {
    const FaceScore score = ScoreFaces({}, identity, metric);
    EXPECT_FALSE(score.similarity.has_value());
    EXPECT_EQ(score.faces_found, 0);
    EXPECT_EQ(score.best_face, -1);
    EXPECT_EQ(score.reason, "no face found");
  }
}

TEST(ScoreFaces, UncomparableInputsHaveNoSimilarity) {
  const FaceScore empty_identity = ScoreFaces({At(0)}, IdentityReference{}, Metric::kCosine);
  EXPECT_FALSE(empty_identity.similarity.has_value());
  EXPECT_EQ(empty_identity.faces_found, 1);
  EXPECT_NE(empty_identity.reason.find("no face descriptors"), std::string::npos);

  const FaceScore mismatch = ScoreFaces({{1, 0}}, IdentityReference{{At(0)}}, Metric::kEuclidean);
  EXPECT_FALSE(mismatch.similarity.has_value());
  EXPECT_EQ(mismatch.best_face, -1);
  EXPECT_NE(mismatch.reason.find("length 2"), std::string::npos) << mismatch.reason;

  // A face that cannot be compared is skipped; the others still score.
  const FaceScore partly = ScoreFaces({{1, 0}, At(5)}, IdentityReference{{At(0)}}, Metric::kCosine);
  ASSERT_TRUE(partly.similarity.has_value());
  EXPECT_EQ(partly.best_face, 1);
  EXPECT_EQ(partly.faces_found, 2);
}

}  // namespace
}  // namespace farm::faceid
