#include "jpeg_decoder.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>   // needs jpeglib.h first
// clang-format on

#include "exif_orientation.h"

namespace farm::faceid::internal {
namespace {

// Error manager: fatal errors and data-destroying warnings jump back to the decoder.
struct StrictErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char fatal_message[JMSG_LENGTH_MAX];
  bool data_loss;
  char warnings[512];
};

bool IsDataLossWarning(int code) {
  switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
      return true;
    default:
      return false;
  }
}

void OnErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<StrictErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->fatal_message);
  err->data_loss = false;
  std::longjmp(err->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<StrictErrorManager*>(cinfo->err);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  if (IsDataLossWarning(cinfo->err->msg_code)) {
    std::snprintf(err->fatal_message, sizeof(err->fatal_message), "%s", text);
    err->data_loss = true;
    std::longjmp(err->jump, 1);
  }
  cinfo->err->num_warnings++;
  const size_t used = std::strlen(err->warnings);
  if (used + 3 < sizeof(err->warnings)) {
    std::snprintf(err->warnings + used, sizeof(err->warnings) - used, "%s%s", used ? "; " : "",
                  text);
  }
}

// Adobe CMYK/YCCK JPEGs store inverted CMYK (what Photoshop writes and OpenCV assumes).
void InvertedCmykToRgb(const unsigned char* cmyk, int width, uint8_t* rgb) {
  for (int x = 0; x < width; ++x) {
    const int k = cmyk[4 * x + 3];
    for (int c = 0; c < 3; ++c)
      rgb[3 * x + c] = static_cast<uint8_t>((cmyk[4 * x + c] * k + 127) / 255);
  }
}

}  // namespace

namespace {

// Everything the libjpeg callbacks and the error jump touch lives here, outside the
// frame that calls setjmp, so no C++ object is modified between setjmp and longjmp in
// that frame.
struct DecodeState {
  StrictErrorManager err;
  JpegDecodeResult result;
  std::vector<unsigned char> row;
  int64_t pixels = 0;
  bool too_large = false;
};

// Runs libjpeg over the bytes; false when it jumped back with an error (in state->err).
bool RunLibjpeg(std::string_view bytes, int64_t max_pixels, DecodeState* state) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&state->err.pub);
  state->err.pub.error_exit = OnErrorExit;
  state->err.pub.emit_message = OnMessage;
  jpeg_create_decompress(&cinfo);
  if (setjmp(state->err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);

  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    const int orientation = ParseExifOrientation(
        std::string_view(reinterpret_cast<const char*>(m->data), m->data_length));
    if (orientation != 1) {
      state->result.exif_orientation = orientation;
      break;
    }
  }

  state->pixels = int64_t{cinfo.image_width} * int64_t{cinfo.image_height};
  if (state->pixels > max_pixels) {
    state->too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  RgbImage& image = state->result.image;
  image.width = static_cast<int>(cinfo.output_width);
  image.height = static_cast<int>(cinfo.output_height);
  image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
  state->row.resize(size_t(image.width) * size_t(cinfo.output_components));
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* dst = image.rgb.data() + size_t(cinfo.output_scanline) * size_t(image.width) * 3;
    JSAMPROW rows[1] = {cmyk ? state->row.data() : dst};
    if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) break;
    if (cmyk) InvertedCmykToRgb(state->row.data(), image.width, dst);
  }
  jpeg_finish_decompress(&cinfo);  // errors if scanlines are missing
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

StatusOr<JpegDecodeResult> DecodeJpeg(std::string_view bytes, int64_t max_pixels,
                                      const std::string& origin) {
  auto state = std::make_unique<DecodeState>();
  std::memset(&state->err, 0, sizeof(state->err));
  if (!RunLibjpeg(bytes, max_pixels, state.get())) {
    if (state->err.data_loss) {
      return DataLoss(origin + ": truncated or corrupt JPEG: " + state->err.fatal_message);
    }
    return InvalidArgument(origin + ": cannot decode JPEG: " + state->err.fatal_message);
  }
  if (state->too_large) {
    return InvalidArgument(origin +
                           ": JPEG is too large to decode: " + std::to_string(state->pixels) +
                           " pixels, the limit is " + std::to_string(max_pixels));
  }
  if (state->result.image.width <= 0 || state->result.image.height <= 0) {
    return InvalidArgument(origin + ": JPEG has no pixels");
  }
  state->result.warnings = state->err.warnings;
  return std::move(state->result);
}

}  // namespace farm::faceid::internal
