// How a face chip for the recognition net is cut from the image. face-api's default
// ("dlib alignment") is only a square crop around the eyes and mouth, no rotation; the
// interface lets a similarity-transform alignment be swapped in later.
#pragma once

#include <span>
#include <string>

#include "farm/faceid/face_geometry.h"
#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

struct AlignedFace {
  IntRect align_rect;  // the rectangle the aligner chose, image pixels, before clipping
  IntRect crop;        // the pixels actually used (for a warping aligner: their bounds)
  RgbImage chip;       // what the recognition net receives (resized to 150 inside it)
};

class FaceAligner {
 public:
  virtual ~FaceAligner() = default;
  // A short stable name; part of the descriptor version when not the default.
  virtual std::string Name() const = 0;
  // landmarks68: image pixels; landmark_crop: the region the landmark net saw.
  // Errors when no chip can be cut (e.g. an empty crop).
  virtual StatusOr<AlignedFace> Align(const RgbImage& image, std::span<const Point2> landmarks68,
                                      const IntRect& landmark_crop) const = 0;
};

// face-api's descriptor crop: DlibAlignRect (README step 5), clipped and floored to the
// image (step 6), pixels copied unchanged.
class FaceApiCropAligner final : public FaceAligner {
 public:
  static constexpr const char* kName = "face-api-dlib-crop";
  std::string Name() const override { return kName; }
  StatusOr<AlignedFace> Align(const RgbImage& image, std::span<const Point2> landmarks68,
                              const IntRect& landmark_crop) const override;
};

}  // namespace farm::faceid
