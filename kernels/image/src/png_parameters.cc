#include "farm/image/png_io.h"
#include "farm/image/png_parameters.h"
#include "farm/image/png_text.h"

namespace farm::image {

StatusOr<std::string> EncodePngWithParameters(const Image& image,
                                              const GenerationParameters& params) {
  FARM_ASSIGN_OR_RETURN(std::string text, FormatParameters(params));
  FARM_ASSIGN_OR_RETURN(std::string png, EncodePng(image));
  return SetPngText(png, kParametersKeyword, text);
}

Status WritePngWithParameters(const std::string& path, const Image& image,
                              const GenerationParameters& params) {
  StatusOr<std::string> png = EncodePngWithParameters(image, params);
  if (!png.ok()) return png.status().WithContext(path);
  return WriteFileBytes(path, *png);
}

StatusOr<std::optional<GenerationParameters>> ReadPngParameters(std::string_view png,
                                                                const std::string& origin) {
  FARM_ASSIGN_OR_RETURN(std::optional<std::string> text,
                        GetPngText(png, kParametersKeyword, origin));
  if (!text) return std::optional<GenerationParameters>();
  return std::optional<GenerationParameters>(ParseParameters(*text));
}

StatusOr<std::optional<GenerationParameters>> ReadPngFileParameters(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  return ReadPngParameters(bytes, path);
}

}  // namespace farm::image
