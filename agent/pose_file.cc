#include "pose_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "farm/image/png_io.h"
#include "farm/image/pose.h"
#include "farm/image/pose_render.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kPreviewMaxSide = 768;

// x, y, c triples; points off the canvas become 0, 0, 0. Returns how many were.
int AppendPoints(json& out, const std::vector<pose::OpenPosePoint>& points, int width, int height) {
  int dropped = 0;
  for (const pose::OpenPosePoint& p : points) {
    const bool visible = p.confidence > 0;
    const bool on_canvas = std::isfinite(p.x) && std::isfinite(p.y) && p.x >= 0 && p.y >= 0 && p.x <= width &&
                           p.y <= height;
    if (visible && !on_canvas) ++dropped;
    if (visible && on_canvas) {
      out.push_back(p.x);
      out.push_back(p.y);
      out.push_back(std::clamp(p.confidence, 0.0, 1.0));
    } else {
      out.push_back(0);
      out.push_back(0);
      out.push_back(0);
    }
  }
  return dropped;
}

}  // namespace

StatusOr<PoseFileText> PoseLibraryJson(const pose::OpenPoseDocument& document, const std::vector<int>& people,
                                       const std::string& description) {
  PoseFileText out;
  json doc = {{"description", description},
              {"version", 1.3},
              {"canvas_width", document.canvas_width},
              {"canvas_height", document.canvas_height},
              {"people", json::array()}};
  for (int index : people) {
    if (index < 0 || index >= static_cast<int>(document.people.size())) {
      return InvalidArgument("person " + std::to_string(index) + " does not exist (" +
                             std::to_string(document.people.size()) + " found)");
    }
    const pose::OpenPosePerson& person = document.people[index];
    json body = json::array(), left = json::array(), right = json::array(), face = json::array();
    int dropped = AppendPoints(body, person.body, document.canvas_width, document.canvas_height);
    bool any_visible = false;
    for (size_t i = 2; i < body.size(); i += 3) any_visible = any_visible || body[i].get<double>() > 0;
    if (!any_visible) {
      out.notes.push_back("person " + std::to_string(index) + " left out: no body point on the photo");
      continue;
    }
    dropped += AppendPoints(left, person.hand_left, document.canvas_width, document.canvas_height);
    dropped += AppendPoints(right, person.hand_right, document.canvas_width, document.canvas_height);
    dropped += AppendPoints(face, person.face, document.canvas_width, document.canvas_height);
    if (dropped > 0) {
      out.notes.push_back("person " + std::to_string(index) + ": " + std::to_string(dropped) +
                          " point(s) outside the photo written as not visible");
    }
    doc["people"].push_back({{"person_id", {-1}},
                             {"pose_keypoints_2d", std::move(body)},
                             {"face_keypoints_2d", std::move(face)},
                             {"hand_left_keypoints_2d", std::move(left)},
                             {"hand_right_keypoints_2d", std::move(right)}});
  }
  if (doc["people"].empty()) {
    return InvalidArgument("no person with a body point on the photo to write");
  }
  out.json = doc.dump(2) + "\n";
  // The library's own reader is the judge of the file.
  StatusOr<image::Pose> parsed = image::ParsePoseJson(out.json, "<extracted pose>");
  if (!parsed.ok()) return Internal("the extracted pose does not load: " + parsed.status().ToString());
  return out;
}

Status WritePoseFiles(const std::string& text, const std::string& pose_path, const std::string& preview_path,
                      bool force) {
  std::error_code ec;
  for (const std::string& path : {pose_path, preview_path}) {
    if (!path.empty() && !force && fs::exists(path, ec)) {
      return AlreadyExists(path + " exists; pass --force to overwrite it");
    }
  }
  StatusOr<image::Pose> pose = image::ParsePoseJson(text, pose_path);
  if (!pose.ok()) return pose.status();
  std::string preview_png;
  if (!preview_path.empty()) {
    const double scale = std::min(1.0, static_cast<double>(kPreviewMaxSide) /
                                           std::max(pose->canvas_width, pose->canvas_height));
    const int width = std::max(1, static_cast<int>(std::lround(pose->canvas_width * scale)));
    const int height = std::max(1, static_cast<int>(std::lround(pose->canvas_height * scale)));
    StatusOr<image::PoseMap> map = image::RenderPoseMap(*pose, width, height);
    if (!map.ok()) return map.status().WithContext("drawing the preview");
    FARM_ASSIGN_OR_RETURN(preview_png, image::EncodePng(map->image));
  }
  const fs::path parent = fs::path(pose_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  FARM_RETURN_IF_ERROR(image::WriteFileBytes(pose_path, text));
  if (!preview_path.empty()) FARM_RETURN_IF_ERROR(image::WriteFileBytes(preview_path, preview_png));
  return Status::Ok();
}

}  // namespace farm::agent
