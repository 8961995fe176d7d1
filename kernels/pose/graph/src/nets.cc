// The three human-models nets on the graph interpreter: input checks, the graph's node
// names, output shapes.
#include "farm/pose/nets.h"

#include "farm/pose/graph_model.h"

namespace farm::pose {
namespace {

constexpr char kDetectorScores[] = "StatefulPartitionedCall/Postprocessor/Slice";
constexpr char kDetectorBoxes[] = "StatefulPartitionedCall/Postprocessor/ExpandDims_1";

Status CheckImage(size_t values, int height, int width, const char* net) {
  if (height <= 0 || width <= 0) {
    return InvalidArgument(std::string(net) + ": image size " + std::to_string(width) + "x" +
                           std::to_string(height) + " must be positive");
  }
  if (values != static_cast<size_t>(height) * static_cast<size_t>(width) * 3) {
    return InvalidArgument(std::string(net) + ": expected " + std::to_string(height) + "*" +
                           std::to_string(width) + "*3 values, got " + std::to_string(values));
  }
  return Status::Ok();
}

Status CheckShape(const HostTensor& t, const std::vector<int64_t>& shape, const std::string& what) {
  if (t.shape != shape || t.dtype != HostTensor::DType::kFloat32) {
    std::string got;
    for (int64_t d : t.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
    return Internal(what + ": unexpected output shape [" + got + "]");
  }
  return Status::Ok();
}

// One graph input, moved in (a braced list would copy the image).
std::vector<std::pair<std::string, HostTensor>> Feed(const std::string& name, HostTensor value) {
  std::vector<std::pair<std::string, HostTensor>> feed;
  feed.emplace_back(name, std::move(value));
  return feed;
}

}  // namespace

StatusOr<MoveNetMultipose> MoveNetMultipose::Load(const std::string& model_json) {
  MoveNetMultipose net;
  FARM_ASSIGN_OR_RETURN(net.graph_, GraphModel::Load(model_json));
  return net;
}

StatusOr<std::vector<float>> MoveNetMultipose::Run(std::vector<int32_t> input_hwc,
                                                   int height, int width) const {
  FARM_RETURN_IF_ERROR(CheckImage(input_hwc.size(), height, width, "MoveNet"));
  FARM_ASSIGN_OR_RETURN(
      std::vector<HostTensor> out,
      graph_->Run(Feed("input", HostTensor::Int({1, height, width, 3}, std::move(input_hwc))),
                  {"Identity"}));
  FARM_RETURN_IF_ERROR(CheckShape(out[0], {1, kSlots, kSlotValues}, "MoveNet"));
  return std::move(out[0].floats);
}

StatusOr<HandDetectorNet> HandDetectorNet::Load(const std::string& model_json) {
  HandDetectorNet net;
  FARM_ASSIGN_OR_RETURN(net.graph_, GraphModel::Load(model_json));
  return net;
}

StatusOr<HandDetectorNet::Output> HandDetectorNet::Run(std::vector<int32_t> input_hwc,
                                                       int height, int width) const {
  FARM_RETURN_IF_ERROR(CheckImage(input_hwc.size(), height, width, "hand detector"));
  FARM_ASSIGN_OR_RETURN(
      std::vector<HostTensor> out,
      graph_->Run(
          Feed("input_tensor", HostTensor::Int({1, height, width, 3}, std::move(input_hwc))),
          {kDetectorScores, kDetectorBoxes}));
  if (out[0].shape.size() != 3 || out[0].shape[0] != 1 || out[0].shape[2] != 7) {
    return Internal("hand detector: unexpected scores shape");
  }
  Output result;
  result.anchors = static_cast<int>(out[0].shape[1]);
  FARM_RETURN_IF_ERROR(CheckShape(out[1], {1, result.anchors, 1, 4}, "hand detector boxes"));
  result.scores = std::move(out[0].floats);
  result.boxes = std::move(out[1].floats);
  return result;
}

StatusOr<HandLandmarkNet> HandLandmarkNet::Load(const std::string& model_json) {
  HandLandmarkNet net;
  FARM_ASSIGN_OR_RETURN(net.graph_, GraphModel::Load(model_json));
  return net;
}

StatusOr<HandLandmarkNet::Output> HandLandmarkNet::Run(std::vector<float> input_hwc) const {
  FARM_RETURN_IF_ERROR(CheckImage(input_hwc.size(), kInputSize, kInputSize, "hand landmarks"));
  FARM_ASSIGN_OR_RETURN(
      std::vector<HostTensor> out,
      graph_->Run(Feed("input_1",
                       HostTensor::Float({1, kInputSize, kInputSize, 3}, std::move(input_hwc))),
                  {"Identity", "Identity_1", "Identity_2"}));
  FARM_RETURN_IF_ERROR(CheckShape(out[0], {1, 63}, "hand landmarks keypoints"));
  FARM_RETURN_IF_ERROR(CheckShape(out[1], {1, 1}, "hand landmarks hand flag"));
  FARM_RETURN_IF_ERROR(CheckShape(out[2], {1, 1}, "hand landmarks handedness"));
  Output result;
  result.keypoints = std::move(out[0].floats);
  result.hand_flag = out[1].floats[0];
  result.handedness = out[2].floats[0];
  return result;
}

}  // namespace farm::pose
