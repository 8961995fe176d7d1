// Comparing face descriptors (face-api's conventions: a Euclidean distance below 0.6
// is taken as the same person).
#pragma once

#include <span>

namespace farm::faceid {

// sqrt(sum (a_k - b_k)^2), accumulated in double. Spans of different length: NaN.
double EuclideanDistance(std::span<const float> a, std::span<const float> b);
// a.b / sqrt((a.a)(b.b)) in double. NaN for different lengths or a zero vector.
double CosineSimilarity(std::span<const float> a, std::span<const float> b);

}  // namespace farm::faceid
