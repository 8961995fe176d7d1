#include "farm/image/png_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "mat_util.h"
#include "png_chunks.h"

namespace farm::image {

StatusOr<std::string> EncodePng(const Image& image) {
  FARM_RETURN_IF_ERROR(ValidateImage(image, "PNG encode"));
  cv::Mat src = internal::WrapMat(image);
  cv::Mat bgr;
  if (image.channels == 3) {
    cv::cvtColor(src, bgr, cv::COLOR_RGB2BGR);
  } else if (image.channels == 4) {
    cv::cvtColor(src, bgr, cv::COLOR_RGBA2BGRA);
  } else {
    bgr = src;
  }
  std::vector<uchar> buffer;
  try {
    if (!cv::imencode(".png", bgr, buffer)) return Internal("PNG encode: OpenCV refused the image");
  } catch (const cv::Exception& e) {
    return Internal(std::string("PNG encode: ") + e.what());
  }
  return std::string(buffer.begin(), buffer.end());
}

StatusOr<Image> DecodePng(std::string_view bytes, const std::string& origin) {
  FARM_ASSIGN_OR_RETURN(internal::PngChunkList list, internal::ParsePngChunks(bytes, origin));
  if (list.width > static_cast<uint32_t>(kMaxImageSide) ||
      list.height > static_cast<uint32_t>(kMaxImageSide)) {
    return InvalidArgument(origin + ": PNG is " + std::to_string(list.width) + "x" +
                           std::to_string(list.height) + "; the largest side accepted is " +
                           std::to_string(kMaxImageSide));
  }
  // 64 Mpx (256 MiB as RGBA): far above any render, well below what would exhaust memory.
  constexpr uint64_t kMaxPixels = uint64_t{1} << 26;
  if (uint64_t{list.width} * list.height > kMaxPixels) {
    return InvalidArgument(origin + ": PNG is " + std::to_string(list.width) + "x" +
                           std::to_string(list.height) + "; at most " +
                           std::to_string(kMaxPixels) + " pixels are decoded");
  }
  cv::Mat decoded;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1,
                      const_cast<char*>(bytes.data()));
    decoded = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return DataLoss(origin + ": PNG decode failed: " + e.what());
  }
  if (decoded.empty()) return DataLoss(origin + ": PNG pixel data does not decode");
  if (decoded.depth() == CV_16U) {
    decoded.convertTo(decoded, CV_8U, 1.0 / 257.0);
  } else if (decoded.depth() != CV_8U) {
    return InvalidArgument(origin + ": unsupported PNG sample depth");
  }
  cv::Mat rgb;
  switch (decoded.channels()) {
    case 1: rgb = decoded; break;
    case 3: cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(decoded, rgb, cv::COLOR_BGRA2RGBA); break;
    default: return InvalidArgument(origin + ": unsupported PNG channel count");
  }
  return internal::FromMat(rgb);
}

StatusOr<Image> ReadPngFile(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  return DecodePng(bytes, path);
}

Status WritePngFile(const std::string& path, const Image& image) {
  FARM_ASSIGN_OR_RETURN(std::string bytes, EncodePng(image));
  return WriteFileBytes(path, bytes);
}

}  // namespace farm::image
