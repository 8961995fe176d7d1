// Pose documents (docs/poses.md) to farm::image::Pose, with a message naming the file,
// the JSON path and what was expected for every problem.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "farm/image/image.h"
#include "farm/image/png_parameters.h"
#include "farm/image/pose.h"

namespace farm::image {
namespace {

using nlohmann::json;

constexpr const char* kBodyNames[kBodyKeypoints] = {
    "nose",       "neck",       "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip",      "right_knee",  "right_ankle", "left_hip",
    "left_knee",  "left_ankle", "right_eye",      "left_eye",    "right_ear",   "left_ear"};

// "line:column" of a byte offset, for JSON syntax errors.
std::string LineColumn(std::string_view text, size_t byte) {
  byte = std::min(byte, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < byte; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

StatusOr<int> ReadCanvasSide(const json& doc, const char* key, const std::string& origin) {
  const auto it = doc.find(key);
  if (it == doc.end()) {
    return InvalidArgument(origin + ": " + key + ": missing; expected the canvas size in pixels");
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxImageSide) {
    return InvalidArgument(origin + ": " + key + ": expected an integer in 1.." +
                           std::to_string(kMaxImageSide) + ", got " + it->dump());
  }
  return static_cast<int>(it->get<int64_t>());
}

// Reads [x, y, c] * count from `key` of a person. Optional lists may be absent or empty.
StatusOr<std::vector<Keypoint>> ReadKeypoints(const json& person, const char* key, int count,
                                              bool required, int canvas_w, int canvas_h,
                                              const std::string& where) {
  const std::string path = where + "." + key;
  const std::string expected = std::to_string(count * 3) + " numbers (" + std::to_string(count) +
                               " keypoints as x, y, confidence)" +
                               (required ? "" : " or an empty array");
  const auto it = person.find(key);
  if (it == person.end() || it->is_null()) {
    if (required) return InvalidArgument(path + ": missing; expected " + expected);
    return std::vector<Keypoint>();
  }
  if (!it->is_array()) {
    return InvalidArgument(path + ": expected an array of " + expected + ", got " +
                           it->type_name());
  }
  if (it->empty() && !required) return std::vector<Keypoint>();
  if (it->size() != static_cast<size_t>(count) * 3) {
    return InvalidArgument(path + ": expected " + expected + ", got " +
                           std::to_string(it->size()));
  }
  std::vector<Keypoint> points(count);
  for (int i = 0; i < count; ++i) {
    float values[3];
    for (int k = 0; k < 3; ++k) {
      const json& v = (*it)[static_cast<size_t>(i) * 3 + k];
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        return InvalidArgument(path + "[" + std::to_string(i * 3 + k) +
                               "]: expected a finite number, got " + v.dump());
      }
      values[k] = static_cast<float>(v.get<double>());
    }
    const Keypoint p{values[0], values[1], values[2]};
    std::string label = path + ": keypoint " + std::to_string(i);
    if (count == kBodyKeypoints) label += std::string(" (") + kBodyNames[i] + ")";
    if (p.confidence < 0 || p.confidence > 1) {
      return InvalidArgument(label + ": confidence " + FormatNumber(p.confidence) +
                             " is outside [0, 1]");
    }
    if (p.visible() && (p.x < 0 || p.y < 0 || p.x > canvas_w || p.y > canvas_h)) {
      return InvalidArgument(label + " at (" + FormatNumber(p.x) + ", " + FormatNumber(p.y) +
                             ") lies outside the " + std::to_string(canvas_w) + "x" +
                             std::to_string(canvas_h) + " canvas");
    }
    points[i] = p;
  }
  return points;
}

StatusOr<PosePerson> ReadPerson(const json& person, int w, int h, const std::string& where) {
  if (!person.is_object()) {
    return InvalidArgument(where + ": expected an object with pose_keypoints_2d, got " +
                           person.type_name());
  }
  PosePerson out;
  FARM_ASSIGN_OR_RETURN(out.body,
                        ReadKeypoints(person, "pose_keypoints_2d", kBodyKeypoints, true, w, h, where));
  FARM_ASSIGN_OR_RETURN(out.hand_left, ReadKeypoints(person, "hand_left_keypoints_2d",
                                                     kHandKeypoints, false, w, h, where));
  FARM_ASSIGN_OR_RETURN(out.hand_right, ReadKeypoints(person, "hand_right_keypoints_2d",
                                                      kHandKeypoints, false, w, h, where));
  FARM_ASSIGN_OR_RETURN(out.face, ReadKeypoints(person, "face_keypoints_2d", kFaceKeypoints,
                                                false, w, h, where));
  if (std::none_of(out.body.begin(), out.body.end(), [](const Keypoint& p) { return p.visible(); })) {
    return InvalidArgument(where + ".pose_keypoints_2d: no visible keypoint; expected at least "
                           "one with confidence > 0");
  }
  return out;
}

}  // namespace

const char* BodyKeypointName(int index) {
  return index >= 0 && index < kBodyKeypoints ? kBodyNames[index] : "?";
}

StatusOr<Pose> ParsePoseJson(std::string_view text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return InvalidArgument(origin + ":" + LineColumn(text, e.byte == 0 ? 0 : e.byte - 1) +
                           ": JSON syntax error; expected a pose document (docs/poses.md): " +
                           e.what());
  }
  if (!doc.is_object()) {
    return InvalidArgument(origin + ": expected a JSON object with canvas_width, canvas_height "
                           "and people, got " + std::string(doc.type_name()));
  }
  Pose pose;
  FARM_ASSIGN_OR_RETURN(pose.canvas_width, ReadCanvasSide(doc, "canvas_width", origin));
  FARM_ASSIGN_OR_RETURN(pose.canvas_height, ReadCanvasSide(doc, "canvas_height", origin));
  const auto people = doc.find("people");
  if (people == doc.end() || !people->is_array() || people->empty()) {
    return InvalidArgument(origin + ": people: expected a non-empty array of people, got " +
                           (people == doc.end() ? std::string("nothing")
                                                : std::string(people->type_name()) +
                                                      (people->is_array() ? " (empty)" : "")));
  }
  for (size_t i = 0; i < people->size(); ++i) {
    FARM_ASSIGN_OR_RETURN(PosePerson person,
                          ReadPerson((*people)[i], pose.canvas_width, pose.canvas_height,
                                     origin + ": people[" + std::to_string(i) + "]"));
    pose.people.push_back(std::move(person));
  }
  return pose;
}

}  // namespace farm::image
