#include "farm/faceid/face_score.h"

#include <cmath>

#include "farm/faceid/similarity.h"

namespace farm::faceid {

std::string_view MetricName(Metric metric) {
  return metric == Metric::kCosine ? "cosine" : "euclidean";
}

std::optional<Metric> ParseMetric(std::string_view name) {
  if (name == "cosine") return Metric::kCosine;
  if (name == "euclidean") return Metric::kEuclidean;
  return std::nullopt;
}

bool HigherIsBetter(Metric metric) { return metric == Metric::kCosine; }

Descriptor IdentityReference::mean() const {
  if (descriptors.empty()) return {};
  const std::size_t n = descriptors.front().size();
  std::vector<double> sum(n, 0.0);
  for (const Descriptor& d : descriptors) {
    if (d.size() != n) return {};
    for (std::size_t i = 0; i < n; ++i) sum[i] += d[i];
  }
  Descriptor out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(sum[i] / static_cast<double>(descriptors.size()));
  }
  return out;
}

std::optional<double> FaceValue(const Descriptor& face, const IdentityReference& identity,
                                Metric metric) {
  if (identity.descriptors.empty()) return std::nullopt;
  double sum = 0;
  for (const Descriptor& reference : identity.descriptors) {
    const double value = metric == Metric::kCosine ? CosineSimilarity(face, reference)
                                                   : EuclideanDistance(face, reference);
    if (std::isnan(value)) return std::nullopt;
    sum += value;
  }
  return sum / static_cast<double>(identity.descriptors.size());
}

FaceScore ScoreFaces(const std::vector<Descriptor>& faces_in_render,
                     const IdentityReference& identity, Metric metric) {
  FaceScore score;
  score.faces_found = static_cast<int>(faces_in_render.size());
  if (faces_in_render.empty()) {
    score.reason = "no face found";
    return score;
  }
  if (identity.descriptors.empty()) {
    score.reason = "the identity has no face descriptors";
    return score;
  }
  for (std::size_t i = 0; i < faces_in_render.size(); ++i) {
    const std::optional<double> value = FaceValue(faces_in_render[i], identity, metric);
    if (!value) continue;
    const bool better = !score.similarity || (HigherIsBetter(metric) ? *value > *score.similarity
                                                                      : *value < *score.similarity);
    if (better) {
      score.similarity = value;
      score.best_face = static_cast<int>(i);
    }
  }
  if (!score.similarity) {
    score.reason = "no face could be compared: descriptor length " +
                   std::to_string(faces_in_render.front().size()) + " vs the identity's " +
                   std::to_string(identity.descriptors.front().size()) +
                   " (or an all-zero descriptor)";
  }
  return score;
}

}  // namespace farm::faceid
