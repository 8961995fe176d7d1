#include "farm/faceid/face_aligner.h"

namespace farm::faceid {

StatusOr<AlignedFace> FaceApiCropAligner::Align(const RgbImage& image,
                                                std::span<const Point2> landmarks68,
                                                const IntRect& landmark_crop) const {
  if (landmarks68.size() != 68) {
    return InvalidArgument("FaceApiCropAligner: expected 68 landmarks, got " +
                           std::to_string(landmarks68.size()));
  }
  AlignedFace out;
  out.align_rect = DlibAlignRect(landmarks68, landmark_crop);
  const IntRect& r = out.align_rect;
  out.crop = ClipAndFloor(Box{double(r.x), double(r.y), double(r.width), double(r.height)},
                          image.width, image.height);
  if (out.crop.width < 1 || out.crop.height < 1) {
    return InvalidArgument("FaceApiCropAligner: empty descriptor crop " +
                           std::to_string(out.crop.width) + "x" + std::to_string(out.crop.height) +
                           " at (" + std::to_string(out.crop.x) + ", " +
                           std::to_string(out.crop.y) + ")");
  }
  out.chip = Crop(image, out.crop.x, out.crop.y, out.crop.width, out.crop.height);
  return out;
}

}  // namespace farm::faceid
