// What the detailer's `hands` and `person` targets look for: boxes in an image, found by
// a model the caller chose (the face target uses the face pipeline directly). An
// interface so that the recipe needs no pose models unless a stage asks for them, and
// tests can place regions where they want.
#pragma once

#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::pipeline {

// A box in image pixels (x, y = top-left corner) and the detector's score in [0, 1].
struct Region {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
  double score = 0;
};

class RegionFinder {
 public:
  virtual ~RegionFinder() = default;

  // Every region of `target` ("hands" or "person") scoring at least `min_confidence`, best
  // first. InvalidArgument for a target this finder does not know.
  virtual StatusOr<std::vector<Region>> Find(const farm::faceid::RgbImage& image, const std::string& target,
                                             double min_confidence) const = 0;
};

}  // namespace farm::pipeline
