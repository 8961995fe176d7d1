#include "farm/image/crop_paste.h"

#include <opencv2/imgproc.hpp>

#include "mat_util.h"

namespace farm::image {

StatusOr<CropResult> CropWithPadding(const Image& image, const Rect& box, int padding) {
  FARM_RETURN_IF_ERROR(ValidateImage(image, "crop source"));
  if (padding < 0 || padding > kMaxImageSide) {
    return InvalidArgument("crop padding " + std::to_string(padding) + " is outside 0.." +
                           std::to_string(kMaxImageSide));
  }
  if (box.width < 0 || box.height < 0) {
    return InvalidArgument("crop box " + DescribeRect(box) + " has a negative size");
  }
  const Rect clipped = ClipRect(GrowRect(box, padding), image.width, image.height);
  if (clipped.empty()) {
    return InvalidArgument("crop box " + DescribeRect(box) + " with padding " +
                           std::to_string(padding) + " does not meet the " + DescribeSize(image) +
                           " image");
  }
  FARM_ASSIGN_OR_RETURN(Image crop, Crop(image, clipped));
  return CropResult{std::move(crop), clipped};
}

StatusOr<Image> FeatheredMask(int width, int height, const Rect& rect, int blur, int grow) {
  if (blur < 0 || blur > 1024 || grow < 0 || grow > 1024) {
    return InvalidArgument("feathered mask: blur " + std::to_string(blur) + " and grow " +
                           std::to_string(grow) + " must be in 0..1024");
  }
  FARM_ASSIGN_OR_RETURN(Image mask, MakeImage(width, height, 1, 0));
  const Rect inner = ClipRect(GrowRect(rect, grow), width, height);
  if (inner.empty()) return mask;
  cv::Mat m = internal::WrapMat(mask);
  m(cv::Rect(inner.x, inner.y, inner.width, inner.height)).setTo(255);
  if (blur > 0) {
    cv::Mat blurred;
    cv::GaussianBlur(m, blurred, cv::Size(2 * blur + 1, 2 * blur + 1), blur / 3.0, blur / 3.0,
                     cv::BORDER_REPLICATE);
    blurred.copyTo(m);
  }
  return mask;
}

Status PasteBack(Image& target, const Image& patch, const Rect& rect, const Image& mask) {
  FARM_RETURN_IF_ERROR(ValidateImage(target, "paste target"));
  FARM_RETURN_IF_ERROR(ValidateImage(patch, "paste patch"));
  FARM_RETURN_IF_ERROR(ValidateImage(mask, "paste mask"));
  if (rect.empty() || ClipRect(rect, target.width, target.height) != rect) {
    return InvalidArgument("paste rect " + DescribeRect(rect) + " is empty or leaves the " +
                           DescribeSize(target) + " target");
  }
  if (patch.width != rect.width || patch.height != rect.height ||
      patch.channels != target.channels) {
    return InvalidArgument("paste patch is " + DescribeSize(patch) + "; expected " +
                           std::to_string(rect.width) + "x" + std::to_string(rect.height) + "x" +
                           std::to_string(target.channels) + " (the rect and the target's channels)");
  }
  if (mask.width != rect.width || mask.height != rect.height || mask.channels != 1) {
    return InvalidArgument("paste mask is " + DescribeSize(mask) + "; expected " +
                           std::to_string(rect.width) + "x" + std::to_string(rect.height) + "x1");
  }
  const int channels = target.channels;
  for (int y = 0; y < rect.height; ++y) {
    uint8_t* dst = target.at(rect.x, rect.y + y);
    const uint8_t* src = patch.at(0, y);
    const uint8_t* m = mask.at(0, y);
    for (int x = 0; x < rect.width; ++x) {
      const unsigned w = m[x];
      for (int c = 0; c < channels; ++c) {
        const unsigned v = src[x * channels + c] * w + dst[x * channels + c] * (255u - w) + 127u;
        dst[x * channels + c] = static_cast<uint8_t>(v / 255u);
      }
    }
  }
  return Status::Ok();
}

}  // namespace farm::image
