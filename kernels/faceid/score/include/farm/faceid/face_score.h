// Scoring a render against an identity: how much the faces found in a render look like
// the person whose photos were embedded. Standard library only (farmctl links it).
//
// Metrics (docs/faceid.md explains the choice):
//   cosine     mean cosine similarity to the identity's descriptors; in [-1, 1], higher
//              is more alike. The farm ranks by this one.
//   euclidean  mean Euclidean distance to the identity's descriptors; lower is more alike
//              (face-api's verdict: below 0.6 is the same person).
// One face's value is the mean over the identity's reference descriptors; a render's
// score is its best face (highest cosine, lowest distance).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace farm::faceid {

using Descriptor = std::vector<float>;

enum class Metric { kCosine, kEuclidean };

// "cosine" / "euclidean": the names the scores table stores.
std::string_view MetricName(Metric metric);
// The inverse of MetricName; nullopt for anything else.
std::optional<Metric> ParseMetric(std::string_view name);
// True for cosine (similarity), false for euclidean (distance).
bool HigherIsBetter(Metric metric);

// face-api's verdict for one pair of descriptors: Euclidean distance below this is the
// same person.
inline constexpr double kSamePersonEuclidean = 0.6;

// The descriptors of an identity's photos (one per photo), all from one model version.
struct IdentityReference {
  std::vector<Descriptor> descriptors;

  // Element-wise mean (a "centroid"); empty when there are no descriptors or their
  // lengths differ. Reported by `farmctl identity show`; scoring averages per-pair values
  // instead (see FaceValue).
  Descriptor mean() const;
};

// One face against the identity: the mean over the reference descriptors of the metric.
// nullopt when the reference is empty or a length differs (or a vector is all zeros,
// for cosine).
std::optional<double> FaceValue(const Descriptor& face, const IdentityReference& identity,
                                Metric metric);

struct FaceScore {
  std::optional<double> similarity;  // the best face's value; nullopt: see reason
  int faces_found = 0;               // faces in the render
  int best_face = -1;                // index into faces_in_render; -1 without a value
  std::string reason;                // why similarity is nullopt ("" when it is set)
};

// Scores every face of a render and keeps the best (the first one on ties). No face:
// similarity nullopt, reason "no face found". An identity without descriptors, or faces
// that cannot be compared (length mismatch), give nullopt with a reason saying so.
FaceScore ScoreFaces(const std::vector<Descriptor>& faces_in_render,
                     const IdentityReference& identity, Metric metric);

}  // namespace farm::faceid
