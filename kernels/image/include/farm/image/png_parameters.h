// Generation parameters in a PNG's `parameters` text chunk, in the "infotext" format
// AUTOMATIC1111's web UI writes and that SD front ends read back. The text itself (format,
// parse, the fields of a farm render) lives in schemas (farm/schemas/infotext.h) so that
// farmctl prints the same text without linking the image code; its names are repeated
// here for the image code's callers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/image/image.h"
#include "farm/schemas/infotext.h"
#include "farm/schemas/status.h"

namespace farm::image {

inline constexpr char kParametersKeyword[] = "parameters";

using ::farm::GenerationParameters;
using ::farm::FormatParameters;
using ::farm::ParseParameters;
using ::farm::LoraHash;
using ::farm::RenderInfotext;
using ::farm::ToGenerationParameters;
using ::farm::ParseSizeValue;

// "7", "7.5": the shortest decimal that reads back as the same double.
inline std::string FormatNumber(double value) { return ::farm::FormatInfotextNumber(value); }

// PNG bytes of `image` with the formatted parameters in a `parameters` chunk after IHDR.
StatusOr<std::string> EncodePngWithParameters(const Image& image,
                                              const GenerationParameters& params);
Status WritePngWithParameters(const std::string& path, const Image& image,
                              const GenerationParameters& params);

// The parsed `parameters` chunk of PNG bytes or a file; nullopt when the PNG has none.
// A corrupt PNG is DataLoss (see ReadPngTexts).
StatusOr<std::optional<GenerationParameters>> ReadPngParameters(
    std::string_view png, const std::string& origin = "PNG data");
StatusOr<std::optional<GenerationParameters>> ReadPngFileParameters(const std::string& path);

}  // namespace farm::image
