#include "farm/pose/movenet_decode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "farm/pose/js_math.h"

namespace farm::pose {
namespace {

constexpr const char* kPartNames[kBodyParts] = {
    "nose",       "leftEye",     "rightEye",      "leftEar",   "rightEar",  "leftShoulder",
    "rightShoulder", "leftElbow", "rightElbow",   "leftWrist", "rightWrist", "leftHip",
    "rightHip",   "leftKnee",    "rightKnee",     "leftAnkle", "rightAnkle"};

enum Part {
  kLeftEye = 1, kRightEye, kLeftEar, kRightEar, kLeftShoulder, kRightShoulder, kLeftElbow,
  kRightElbow, kLeftWrist, kRightWrist, kLeftHip, kRightHip, kLeftKnee, kRightKnee, kLeftAnkle,
  kRightAnkle
};

constexpr int kSlotValues = 56;

// movenetcoords.ts horizontal, vertical (lower, higher) and relative pairs.
constexpr std::pair<int, int> kHorizontal[] = {
    {kLeftEye, kRightEye},   {kLeftEar, kRightEar},   {kLeftShoulder, kRightShoulder},
    {kLeftElbow, kRightElbow}, {kLeftWrist, kRightWrist}, {kLeftHip, kRightHip},
    {kLeftKnee, kRightKnee}, {kLeftAnkle, kRightAnkle}};
constexpr std::pair<int, int> kVertical[] = {
    {kLeftKnee, kLeftShoulder}, {kRightKnee, kRightShoulder}, {kLeftAnkle, kLeftKnee},
    {kRightAnkle, kRightKnee}};
constexpr std::pair<int, int> kRelative[] = {{kLeftHip, kRightHip}, {kLeftElbow, kRightElbow}};

// Array.prototype.findIndex over entries that are not holes; -1 when absent.
int FindIndex(const PartList& list, int part) {
  for (size_t i = 0; i < list.entries.size(); ++i) {
    if (list.entries[i] && list.entries[i]->part == part) return static_cast<int>(i);
  }
  return -1;
}

// keypoints[i] in JavaScript: index -1 is the `stash` property, not an element.
std::optional<BodyKeypoint>& Slot(PartList& list, int index) {
  return index < 0 ? list.stash : list.entries[index];
}

std::array<double, 4> KeypointBox(const std::vector<BodyKeypoint>& keypoints) {
  if (keypoints.empty()) return {0, 0, 0, 0};
  double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
  double max_x = -min_x, max_y = -min_x;
  for (const BodyKeypoint& kp : keypoints) {
    min_x = std::min(min_x, kp.position[0]);
    min_y = std::min(min_y, kp.position[1]);
    max_x = std::max(max_x, kp.position[0]);
    max_y = std::max(max_y, kp.position[1]);
  }
  return {min_x, min_y, max_x - min_x, max_y - min_y};
}

}  // namespace

const char* BodyPartName(int part) { return part >= 0 && part < kBodyParts ? kPartNames[part] : ""; }

void FixBodyParts(PartList& list) {
  // Left/right: swap list places when the left point lies left of the right one (in the
  // photo); the name stays with its point, so this reorders and never relabels.
  for (const auto& [left_part, right_part] : kHorizontal) {
    const int left = FindIndex(list, left_part);
    const int right = FindIndex(list, right_part);
    if (left < 0 || right < 0) continue;
    if (list.entries[left]->position[0] < list.entries[right]->position[0]) {
      std::swap(list.entries[left], list.entries[right]);
    }
  }
  // A knee above its shoulder or an ankle above its knee is removed (splice).
  for (const auto& [lower_part, higher_part] : kVertical) {
    const int lower = FindIndex(list, lower_part);
    const int higher = FindIndex(list, higher_part);
    if (lower < 0 || higher < 0) continue;
    if (list.entries[lower]->position[1] < list.entries[higher]->position[1]) {
      list.entries.erase(list.entries.begin() + lower);
    }
  }
  // Hips, then elbows, against the shoulders. A missing part has index -1, which reads
  // and writes the stash: swapping a present point with a missing one moves the point into
  // the stash (a hole remains), and a later pass may read or restore it.
  for (const auto& [left_part, right_part] : kRelative) {
    const int left = FindIndex(list, left_part);
    const int right = FindIndex(list, right_part);
    const int left_to = FindIndex(list, kLeftShoulder);
    const int right_to = FindIndex(list, kRightShoulder);
    if (!Slot(list, left_to) || !Slot(list, right_to)) continue;
    const double lx_to = Slot(list, left_to)->position[0];
    const double rx_to = Slot(list, right_to)->position[0];
    std::array<double, 2> distance_left{0, 0}, distance_right{0, 0};
    if (const auto& l = Slot(list, left)) {
      distance_left = {std::abs(lx_to - l->position[0]), std::abs(rx_to - l->position[0])};
    }
    if (const auto& r = Slot(list, right)) {
      distance_right = {std::abs(rx_to - r->position[0]), std::abs(lx_to - r->position[0])};
    }
    if (distance_left[0] > distance_left[1] || distance_right[0] > distance_right[1]) {
      std::optional<BodyKeypoint> tmp = Slot(list, left);
      Slot(list, left) = Slot(list, right);
      Slot(list, right) = tmp;
    }
  }
}

int JitterCache::Apply(std::vector<BodyKeypoint>& keypoints) {
  constexpr double kMaxJitter = 0.005;
  int replaced = 0;
  if (cache_.size() < keypoints.size()) cache_.resize(keypoints.size());
  for (size_t i = 0; i < keypoints.size(); ++i) {
    if (cache_[i]) {
      const double dx = std::abs(keypoints[i].position_raw[0] - cache_[i]->position_raw[0]);
      const double dy = std::abs(keypoints[i].position_raw[1] - cache_[i]->position_raw[1]);
      if (dx < kMaxJitter && dy < kMaxJitter) {
        keypoints[i] = *cache_[i];
        ++replaced;
        continue;
      }
    }
    cache_[i] = keypoints[i];
  }
  return replaced;
}

std::vector<Body> DecodeMultiPose(const std::vector<float>& output, int width, int height,
                                  const MoveNetDecodeOptions& options) {
  std::vector<Body> bodies;
  std::vector<PartList> lists;
  const int slots = static_cast<int>(output.size() / kSlotValues);
  for (int id = 0; id < slots; ++id) {
    const float* slot = output.data() + static_cast<size_t>(id) * kSlotValues;
    const double slot_score = Round2(slot[55]);
    if (!(slot_score > options.min_confidence)) continue;
    PartList list;
    for (int j = 0; j < kBodyParts; ++j) {
      const double score = slot[3 * j + 2];
      if (!(score > options.min_confidence)) continue;
      BodyKeypoint kp;
      kp.part = j;
      kp.score = Round2(score);
      // Normalised to the padded frame but multiplied by the unpadded size (human's way).
      kp.position = {JsRound(width * static_cast<double>(slot[3 * j + 1])),
                     JsRound(height * static_cast<double>(slot[3 * j]))};
      list.entries.push_back(kp);
    }
    FixBodyParts(list);
    Body body;
    body.id = id;
    body.score = slot_score;
    bodies.push_back(std::move(body));
    lists.push_back(std::move(list));
  }
  // Stable sort by score, then cap.
  std::vector<size_t> order(bodies.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return bodies[a].score > bodies[b].score; });
  if (options.max_detected >= 0 && order.size() > static_cast<size_t>(options.max_detected)) {
    order.resize(options.max_detected);
  }
  const MoveNetPadding pad = MoveNetPaddingFor(width, height);
  const double full_width = width + pad.left + pad.right;
  const double full_height = height + pad.top + pad.bottom;
  std::vector<Body> sorted;
  JitterCache jitter;
  for (size_t index : order) {
    Body body = std::move(bodies[index]);
    for (const auto& entry : lists[index].entries) {
      if (!entry) continue;  // holes left by the stash swap
      BodyKeypoint kp = *entry;
      kp.position = {kp.position[0] * full_width / width - pad.left,
                     kp.position[1] * full_height / height - pad.top};
      kp.position_raw = {kp.position[0] / width, kp.position[1] / height};
      body.keypoints.push_back(kp);
    }
    body.box = KeypointBox(body.keypoints);
    body.box_raw = {body.box[0] / width, body.box[1] / height, body.box[2] / width, body.box[3] / height};
    jitter.Apply(body.keypoints);
    sorted.push_back(std::move(body));
  }
  return sorted;
}

}  // namespace farm::pose
