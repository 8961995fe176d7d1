// The whole face pipeline of face-api.js (detectAllFaces(SsdMobilenetv1) ->
// withFaceLandmarks() -> withFaceDescriptors()), README steps 1-7: detection, landmark
// crop, 68 landmarks, alignment rect, descriptor crop, 128-d descriptor.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/faceid/face_aligner.h"
#include "farm/faceid/face_geometry.h"
#include "farm/faceid/geometry.h"
#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

class SsdMobilenetV1;
class LandmarkNet;
class RecognitionNet;

// One face, in pixels of the analysed image (README "Fields of each face").
struct Face {
  double score = 0;                     // SSD score (a float32 value)
  Box box;                              // detection box
  IntRect landmark_crop;                // region fed to the landmark net
  std::vector<Point2> landmarks;        // 68 points, iBUG-68 order
  IntRect descriptor_align_rect;        // the aligner's rect (face-api: dlib align rect)
  IntRect descriptor_crop;              // region fed to the recognition net
  std::array<float, 128> descriptor{};  // not L2-normalised
};

// Wall-clock seconds per stage, added to by Analyze (for benchmarks; tools/bench/faceid).
struct StageTimes {
  double detector = 0;    // 512x512 input, SSD net, post-processing
  double landmarks = 0;   // landmark crops, 112x112 inputs, landmark net
  double descriptor = 0;  // alignment, 150x150 inputs, recognition net
  int64_t faces = 0;
};

struct AnalyzeOptions {
  double min_confidence = 0.5;  // SSD scores must be strictly greater
  int max_results = 100;
  StageTimes* times = nullptr;  // when set, each stage's time is added to it
};

class FacePipeline {
 public:
  // Loads the three face-api models from model_dir (ssd_mobilenetv1_model,
  // face_landmark_68_model, face_recognition_model manifests + .bin) and hashes the
  // recognition weights for DescriptorModelVersion().
  static StatusOr<FacePipeline> Load(const std::string& model_dir);

  // All faces in descending score order (face-api's order). A face whose landmark or
  // descriptor crop would be empty (< 1 px) is left out. An empty image has no faces.
  StatusOr<std::vector<Face>> Analyze(const RgbImage& image,
                                      const AnalyzeOptions& options = {}) const;

  // Replaces the face-api crop aligner (nullptr restores it).
  void SetAligner(std::shared_ptr<const FaceAligner> aligner);

  // Names the descriptor space for the database: "face-api-1.7.15/face_recognition_model@"
  // + the first 12 hex digits of the SHA-256 of the recognition weights (.bin shards in
  // manifest order), + "/<aligner name>" when the aligner is not the default.
  std::string DescriptorModelVersion() const;

  const SsdMobilenetV1& detector() const { return *detector_; }
  const LandmarkNet& landmark_net() const { return *landmarks_; }
  const RecognitionNet& recognition_net() const { return *recognition_; }

 private:
  std::shared_ptr<const SsdMobilenetV1> detector_;
  std::shared_ptr<const LandmarkNet> landmarks_;
  std::shared_ptr<const RecognitionNet> recognition_;
  std::shared_ptr<const FaceAligner> aligner_;
  std::string recognition_weights_sha256_;
};

// The version string for the recognition weights in model_dir (hashes the .bin shards).
StatusOr<std::string> DescriptorModelVersion(const std::string& model_dir);

}  // namespace farm::faceid
