#include "farm/faceid/image_decode.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "exif_orientation.h"
#include "jpeg_decoder.h"
#include "opencv_codec.h"
#include "png_structure.h"

namespace farm::faceid {
using internal::ApplyExifOrientation;
using internal::CheckPngStructure;
using internal::DecodeJpeg;
using internal::DecodeWithOpenCv;
using internal::JpegDecodeResult;
using internal::LooksLikePng;
using internal::ResizeArea;

namespace {

bool LooksLikeJpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

std::string SizeText(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

}  // namespace

StatusOr<DecodedImage> DecodeImageBytes(std::string_view bytes, const DecodeOptions& options,
                                        const std::string& origin) {
  if (bytes.empty()) return InvalidArgument(origin + ": empty file, not an image");
  if (static_cast<int64_t>(bytes.size()) > options.max_file_bytes) {
    return InvalidArgument(origin + ": " + std::to_string(bytes.size()) +
                           " bytes is over the limit of " + std::to_string(options.max_file_bytes));
  }
  if (options.max_side < 1) {
    return InvalidArgument(origin + ": DecodeOptions::max_side must be at least 1");
  }
  DecodedImage out;
  if (LooksLikeJpeg(bytes)) {
    out.format = "jpeg";
    FARM_ASSIGN_OR_RETURN(JpegDecodeResult jpeg, DecodeJpeg(bytes, options.max_pixels, origin));
    if (!jpeg.warnings.empty()) out.note += "libjpeg warnings: " + jpeg.warnings + "; ";
    if (jpeg.exif_orientation != 1 && options.apply_exif_orientation) {
      out.image = ApplyExifOrientation(jpeg.image, jpeg.exif_orientation);
      out.exif_rotated = true;
      out.note += "EXIF orientation " + std::to_string(jpeg.exif_orientation) +
                  " applied (stored " + SizeText(jpeg.image.width, jpeg.image.height) + "); ";
    } else {
      if (jpeg.exif_orientation != 1) {
        out.note += "EXIF orientation " + std::to_string(jpeg.exif_orientation) + " ignored; ";
      }
      out.image = std::move(jpeg.image);
    }
  } else {
    if (LooksLikePng(bytes)) {
      out.format = "png";
      int w = 0, h = 0;
      FARM_RETURN_IF_ERROR(CheckPngStructure(bytes, options.max_pixels, origin, &w, &h));
    } else {
      out.format = "other";
    }
    FARM_ASSIGN_OR_RETURN(out.image, DecodeWithOpenCv(bytes, origin, &out.note));
    if (int64_t{out.image.width} * out.image.height > options.max_pixels) {
      return InvalidArgument(
          origin + ": image is too large: " + SizeText(out.image.width, out.image.height) +
          ", the limit is " + std::to_string(options.max_pixels) + " pixels");
    }
  }
  out.original_width = out.image.width;
  out.original_height = out.image.height;

  const int longer = std::max(out.image.width, out.image.height);
  if (longer > options.max_side) {
    const double scale = static_cast<double>(options.max_side) / longer;
    const int w = std::max(1, static_cast<int>(std::lround(out.image.width * scale)));
    const int h = std::max(1, static_cast<int>(std::lround(out.image.height * scale)));
    out.image = ResizeArea(out.image, w, h);
    out.downscaled = true;
    out.note += "downscaled from " + SizeText(out.original_width, out.original_height) + " to " +
                SizeText(w, h) + " (INTER_AREA, max_side " + std::to_string(options.max_side) +
                "): coordinates refer to the downscaled image; ";
  }
  if (out.note.size() >= 2) out.note.resize(out.note.size() - 2);  // trailing "; "
  return out;
}

StatusOr<DecodedImage> DecodeImageFile(const std::string& path, const DecodeOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(path + ": no such image file");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(path + ": cannot read the file size: " + ec.message());
  if (static_cast<int64_t>(size) > options.max_file_bytes) {
    return InvalidArgument(path + ": " + std::to_string(size) + " bytes is over the limit of " +
                           std::to_string(options.max_file_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open the image file");
  std::string bytes(size, '\0');
  if (size > 0 && !in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return DataLoss(path + ": could not read " + std::to_string(size) + " bytes");
  }
  return DecodeImageBytes(bytes, options, path);
}

}  // namespace farm::faceid
