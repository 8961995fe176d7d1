#include "farm/agent/prepare_manifest.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {

using Json = nlohmann::json;           // sorted keys: the canonical key
using Ordered = nlohmann::ordered_json;  // manifest.json, in reading order

constexpr char kFormat[] = "studiofarm-prepared-dataset";

Ordered BoxJson(double x, double y, double w, double h) {
  return {{"x", x}, {"y", y}, {"width", w}, {"height", h}};
}

Ordered SettingsJson(const PrepareSettings& s) {
  return {{"crop_ratio", s.crop_ratio},
          {"resolution", s.resolution},
          {"caption_template", s.caption_template},
          {"pick", s.pick_largest ? "largest" : "single"},
          {"min_confidence", s.min_confidence}};
}

template <typename T>
T Field(const Ordered& object, const char* name, const std::string& where) {
  if (!object.is_object() || !object.contains(name)) {
    throw std::runtime_error(where + ": missing field '" + name + "'");
  }
  try {
    return object.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(where + ": field '" + name + "' has the wrong type");
  }
}

FaceBox ParseFaceBox(const Ordered& box, const std::string& where) {
  return {Field<double>(box, "x", where), Field<double>(box, "y", where),
          Field<double>(box, "width", where), Field<double>(box, "height", where)};
}

PixelRect ParsePixelRect(const Ordered& box, const std::string& where) {
  return {Field<int>(box, "x", where), Field<int>(box, "y", where), Field<int>(box, "width", where),
          Field<int>(box, "height", where)};
}

}  // namespace

std::string ExpandCaption(const std::string& caption_template, const std::string& token) {
  static constexpr std::string_view kPlaceholder = "{token}";
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t found = caption_template.find(kPlaceholder, at);
    if (found == std::string::npos) break;
    out.append(caption_template, at, found - at);
    out += token;
    at = found + kPlaceholder.size();
  }
  out.append(caption_template, at, std::string::npos);
  return out;
}

Status ValidateSettings(const PrepareSettings& s) {
  if (!(s.crop_ratio >= 1.0 && s.crop_ratio <= 10.0)) {
    return InvalidArgument("crop ratio " + std::to_string(s.crop_ratio) +
                           ": expected 1 to 10 (the crop's side over the face box's longer side)");
  }
  if (s.resolution < 64 || s.resolution > 2048 || s.resolution % 8 != 0) {
    return InvalidArgument("resolution " + std::to_string(s.resolution) +
                           ": expected a multiple of 8 from 64 to 2048 (the VAE downscales by 8)");
  }
  if (!(s.min_confidence > 0.0 && s.min_confidence < 1.0)) {
    return InvalidArgument("min confidence " + std::to_string(s.min_confidence) + ": expected 0 < c < 1");
  }
  if (s.caption_template.empty()) return InvalidArgument("the caption template is empty");
  return Status::Ok();
}

std::string DatasetKeyJson(const DatasetManifest& m) {
  std::vector<std::string> photos = m.photo_sha256;
  std::sort(photos.begin(), photos.end());
  Json settings = Json::parse(SettingsJson(m.settings).dump());
  const Json key = {{"prepare_version", m.prepare_version},
                    {"face_detector", m.face_detector},
                    {"instance_token", m.instance_token},
                    {"settings", settings},
                    {"photo_sha256", photos}};
  return key.dump();
}

std::string DatasetId(const DatasetManifest& manifest) { return Sha256Hex(DatasetKeyJson(manifest)); }

std::string ManifestJson(const DatasetManifest& m) {
  Ordered images = Ordered::array();
  for (const PreparedImage& image : m.images) {
    images.push_back({{"file", image.file},
                      {"sha256", image.sha256},
                      {"caption", image.caption},
                      {"source_name", image.source_name},
                      {"source_sha256", image.source_sha256},
                      {"source_width", image.source_width},
                      {"source_height", image.source_height},
                      {"exif_rotated", image.exif_rotated},
                      {"faces_found", image.faces_found},
                      {"face_score", image.face_score},
                      {"face_box", BoxJson(image.face_box.x, image.face_box.y, image.face_box.width,
                                           image.face_box.height)},
                      {"crop_box", {{"x", image.crop_box.x},
                                    {"y", image.crop_box.y},
                                    {"width", image.crop_box.width},
                                    {"height", image.crop_box.height}}}});
  }
  Ordered skipped = Ordered::array();
  for (const SkippedPhoto& photo : m.skipped) {
    skipped.push_back({{"source_name", photo.source_name},
                       {"source_sha256", photo.source_sha256},
                       {"reason", photo.reason}});
  }
  std::vector<std::string> photos = m.photo_sha256;
  std::sort(photos.begin(), photos.end());
  const Ordered out = {{"format", kFormat},
                       {"format_version", kManifestFormatVersion},
                       {"dataset_id", m.dataset_id},
                       {"prepare_version", m.prepare_version},
                       {"face_detector", m.face_detector},
                       {"instance_token", m.instance_token},
                       {"settings", SettingsJson(m.settings)},
                       {"photo_sha256", photos},
                       {"images", images},
                       {"skipped", skipped},
                       {"warnings", m.warnings}};
  return out.dump(2) + "\n";
}

StatusOr<DatasetManifest> ParseManifestJson(std::string_view text, const std::string& origin) {
  const Ordered doc = Ordered::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return DataLoss(origin + ": not valid JSON");
  DatasetManifest m;
  try {
    if (Field<std::string>(doc, "format", origin) != kFormat) {
      return DataLoss(origin + ": not a prepared-dataset manifest (format is not '" + kFormat + "')");
    }
    const int version = Field<int>(doc, "format_version", origin);
    if (version != kManifestFormatVersion) {
      return DataLoss(origin + ": manifest format version " + std::to_string(version) + ", expected " +
                      std::to_string(kManifestFormatVersion));
    }
    m.dataset_id = Field<std::string>(doc, "dataset_id", origin);
    m.prepare_version = Field<std::string>(doc, "prepare_version", origin);
    m.face_detector = Field<std::string>(doc, "face_detector", origin);
    m.instance_token = Field<std::string>(doc, "instance_token", origin);
    const Ordered s = Field<Ordered>(doc, "settings", origin);
    const std::string where = origin + " settings";
    m.settings.crop_ratio = Field<double>(s, "crop_ratio", where);
    m.settings.resolution = Field<int>(s, "resolution", where);
    m.settings.caption_template = Field<std::string>(s, "caption_template", where);
    m.settings.pick_largest = Field<std::string>(s, "pick", where) == "largest";
    m.settings.min_confidence = Field<double>(s, "min_confidence", where);
    m.photo_sha256 = Field<std::vector<std::string>>(doc, "photo_sha256", origin);
    const Ordered images = Field<Ordered>(doc, "images", origin);
    if (!images.is_array()) return DataLoss(origin + ": 'images' is not an array");
    for (size_t i = 0; i < images.size(); ++i) {
      const Ordered& j = images[i];
      const std::string at = origin + " images[" + std::to_string(i) + "]";
      PreparedImage image;
      image.file = Field<std::string>(j, "file", at);
      image.sha256 = Field<std::string>(j, "sha256", at);
      image.caption = Field<std::string>(j, "caption", at);
      image.source_name = Field<std::string>(j, "source_name", at);
      image.source_sha256 = Field<std::string>(j, "source_sha256", at);
      image.source_width = Field<int>(j, "source_width", at);
      image.source_height = Field<int>(j, "source_height", at);
      image.exif_rotated = Field<bool>(j, "exif_rotated", at);
      image.faces_found = Field<int>(j, "faces_found", at);
      image.face_score = Field<double>(j, "face_score", at);
      image.face_box = ParseFaceBox(Field<Ordered>(j, "face_box", at), at + " face_box");
      image.crop_box = ParsePixelRect(Field<Ordered>(j, "crop_box", at), at + " crop_box");
      m.images.push_back(std::move(image));
    }
    const Ordered skipped = Field<Ordered>(doc, "skipped", origin);
    if (!skipped.is_array()) return DataLoss(origin + ": 'skipped' is not an array");
    for (const Ordered& j : skipped) {
      m.skipped.push_back({Field<std::string>(j, "source_name", origin + " skipped"),
                           Field<std::string>(j, "source_sha256", origin + " skipped"),
                           Field<std::string>(j, "reason", origin + " skipped")});
    }
    m.warnings = Field<std::vector<std::string>>(doc, "warnings", origin);
  } catch (const std::exception& e) {
    return DataLoss(e.what());
  }
  return m;
}

}  // namespace farm::agent
