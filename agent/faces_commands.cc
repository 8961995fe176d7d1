#include "faces_commands.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "face_models_dir.h"
#include "faces_draw.h"
#include "faces_output.h"
#include "farm/faceid/face_score.h"
#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farm/faceid/similarity.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct FacesFlags {
  std::string models_dir;  // root; empty: $STUDIOFARM_MODELS or ~/.cache/studiofarm/models
  bool json_output = false;
  // detect
  std::string image;
  std::string draw;
  double min_confidence = 0.5;
  // embed
  std::vector<std::string> images;
  // compare
  std::string a, b;
};

FacesFlags g_faces;
CLI::App* g_detect = nullptr;
CLI::App* g_embed = nullptr;
CLI::App* g_compare = nullptr;

int Fail(const Status& status) {
  if (g_faces.json_output) {
    std::printf("%s\n", json{{"ok", false}, {"error", ErrorJson(status)}}.dump().c_str());
  }
  std::fprintf(stderr, "farm-agent: %s\n", status.ToString().c_str());
  return 1;  // usage errors (2) are CLI11's, found while parsing
}

StatusOr<faceid::FacePipeline> LoadPipeline() {
  FARM_ASSIGN_OR_RETURN(std::string dir, FaceModelDir(g_faces.models_dir));
  StatusOr<faceid::FacePipeline> pipeline = faceid::FacePipeline::Load(dir);
  if (!pipeline.ok()) return pipeline.status().WithContext("loading the face models");
  return pipeline;
}

struct Analysed {
  faceid::DecodedImage decoded;
  std::vector<faceid::Face> faces;
};

StatusOr<Analysed> Analyse(const faceid::FacePipeline& pipeline, const std::string& path) {
  Analysed out;
  FARM_ASSIGN_OR_RETURN(out.decoded, faceid::DecodeImageFile(path));
  faceid::AnalyzeOptions options;
  options.min_confidence = g_faces.min_confidence;
  StatusOr<std::vector<faceid::Face>> faces = pipeline.Analyze(out.decoded.image, options);
  if (!faces.ok()) return faces.status().WithContext(path);
  out.faces = std::move(*faces);
  return out;
}

int RunDetect() {
  StatusOr<faceid::FacePipeline> pipeline = LoadPipeline();
  if (!pipeline.ok()) return Fail(pipeline.status());
  StatusOr<Analysed> analysed = Analyse(*pipeline, g_faces.image);
  if (!analysed.ok()) return Fail(analysed.status());
  if (!g_faces.draw.empty()) {
    Status drawn = DrawFaces(analysed->decoded.image, analysed->faces, g_faces.draw);
    if (!drawn.ok()) return Fail(drawn);
  }
  if (g_faces.json_output) {
    json faces = json::array();
    for (size_t i = 0; i < analysed->faces.size(); ++i) {
      faces.push_back(FaceJson(analysed->faces[i], static_cast<int>(i), false));
    }
    json out = {{"image", g_faces.image},
                {"model_version", pipeline->DescriptorModelVersion()},
                {"min_confidence", g_faces.min_confidence},
                {"decode", DecodeJson(analysed->decoded)},
                {"num_faces", analysed->faces.size()},
                {"faces", std::move(faces)}};
    if (!g_faces.draw.empty()) out["drawn"] = g_faces.draw;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("%s: %zu face%s (%s)\n", g_faces.image.c_str(), analysed->faces.size(),
              analysed->faces.size() == 1 ? "" : "s", DecodeSummary(analysed->decoded).c_str());
  for (size_t i = 0; i < analysed->faces.size(); ++i) {
    std::printf("%s\n", FaceLine(analysed->faces[i], static_cast<int>(i), false).c_str());
  }
  if (!g_faces.draw.empty()) std::printf("drew the faces on %s\n", g_faces.draw.c_str());
  return 0;
}

// Every image is analysed even when one fails; the failures are listed per image and
// make the exit code 1.
int RunEmbed() {
  StatusOr<faceid::FacePipeline> pipeline = LoadPipeline();
  if (!pipeline.ok()) return Fail(pipeline.status());
  json images = json::array();
  int failed = 0;
  for (const std::string& path : g_faces.images) {
    StatusOr<Analysed> analysed = Analyse(*pipeline, path);
    if (!analysed.ok()) {
      ++failed;
      images.push_back({{"image", path}, {"ok", false}, {"error", ErrorJson(analysed.status())}});
      if (!g_faces.json_output) std::printf("%s: %s\n", path.c_str(), analysed.status().ToString().c_str());
      continue;
    }
    json faces = json::array();
    for (size_t i = 0; i < analysed->faces.size(); ++i) {
      faces.push_back(FaceJson(analysed->faces[i], static_cast<int>(i), true));
    }
    images.push_back({{"image", path},
                      {"ok", true},
                      {"decode", DecodeJson(analysed->decoded)},
                      {"num_faces", analysed->faces.size()},
                      {"faces", std::move(faces)}});
    if (!g_faces.json_output) {
      std::printf("%s: %zu face%s (%s)\n", path.c_str(), analysed->faces.size(),
                  analysed->faces.size() == 1 ? "" : "s", DecodeSummary(analysed->decoded).c_str());
      for (size_t i = 0; i < analysed->faces.size(); ++i) {
        std::printf("%s\n", FaceLine(analysed->faces[i], static_cast<int>(i), true).c_str());
      }
    }
  }
  if (g_faces.json_output) {
    std::printf("%s\n", json{{"model_version", pipeline->DescriptorModelVersion()},
                             {"min_confidence", g_faces.min_confidence},
                             {"images", std::move(images)},
                             {"failed", failed}}
                            .dump()
                            .c_str());
  } else {
    std::printf("descriptor model %s\n", pipeline->DescriptorModelVersion().c_str());
  }
  if (failed > 0) {
    std::fprintf(stderr, "farm-agent: %d of %zu images could not be analysed\n", failed,
                 g_faces.images.size());
    return 1;
  }
  return 0;
}

// The pair of faces to compare: the single faces when each image has one, otherwise the
// closest pair (lowest Euclidean distance) over all faces of A and B.
int RunCompare() {
  StatusOr<faceid::FacePipeline> pipeline = LoadPipeline();
  if (!pipeline.ok()) return Fail(pipeline.status());
  StatusOr<Analysed> a = Analyse(*pipeline, g_faces.a);
  if (!a.ok()) return Fail(a.status());
  StatusOr<Analysed> b = Analyse(*pipeline, g_faces.b);
  if (!b.ok()) return Fail(b.status());
  for (const auto& [path, analysed] : {std::pair{g_faces.a, &*a}, std::pair{g_faces.b, &*b}}) {
    if (analysed->faces.empty()) return Fail(FailedPrecondition(path + ": no face found"));
  }
  size_t best_a = 0, best_b = 0;
  double best = faceid::EuclideanDistance(a->faces[0].descriptor, b->faces[0].descriptor);
  for (size_t i = 0; i < a->faces.size(); ++i) {
    for (size_t j = 0; j < b->faces.size(); ++j) {
      const double d = faceid::EuclideanDistance(a->faces[i].descriptor, b->faces[j].descriptor);
      if (d < best) {
        best = d;
        best_a = i;
        best_b = j;
      }
    }
  }
  const double cosine =
      faceid::CosineSimilarity(a->faces[best_a].descriptor, b->faces[best_b].descriptor);
  const bool same = best < faceid::kSamePersonEuclidean;
  if (g_faces.json_output) {
    auto side = [](const std::string& path, const Analysed& x, size_t face) {
      return json{{"image", path},
                  {"num_faces", x.faces.size()},
                  {"face", FaceJson(x.faces[face], static_cast<int>(face), false)}};
    };
    std::printf("%s\n", json{{"model_version", pipeline->DescriptorModelVersion()},
                             {"a", side(g_faces.a, *a, best_a)},
                             {"b", side(g_faces.b, *b, best_b)},
                             {"pairs_compared", a->faces.size() * b->faces.size()},
                             {"euclidean", best},
                             {"cosine", cosine},
                             {"same_person", same},
                             {"same_person_threshold", faceid::kSamePersonEuclidean}}
                            .dump()
                            .c_str());
    return 0;
  }
  std::printf("A %s: face #%zu of %zu\nB %s: face #%zu of %zu\n", g_faces.a.c_str(), best_a,
              a->faces.size(), g_faces.b.c_str(), best_b, b->faces.size());
  if (a->faces.size() * b->faces.size() > 1) {
    std::printf("(the closest of %zu pairs)\n", a->faces.size() * b->faces.size());
  }
  std::printf("euclidean distance %.4f (same person below %.1f)\ncosine similarity  %.4f\n%s\n", best,
              faceid::kSamePersonEuclidean, cosine, same ? "same person" : "different people");
  return 0;
}

void AddCommon(CLI::App* command) {
  command->add_option("--models-dir", g_faces.models_dir,
                      "models root holding face-api/model (default: $STUDIOFARM_MODELS or "
                      "~/.cache/studiofarm/models)");
  command->add_flag("--json", g_faces.json_output, "print one JSON object (docs/faceid.md)");
}

}  // namespace

void AddFacesCommands(CLI::App& app) {
  CLI::App* faces = app.add_subcommand(
      "faces", "face ID on image files: detect faces, embed them (128-d descriptors), compare two photos");
  faces->require_subcommand(1);
  faces->footer(
      "Coordinates are pixels of the analysed image (a photo with a side over 4096 px is "
      "downscaled first; --json's decode block says so). Exit codes: 0 ok, 1 failure, 2 usage.");

  g_detect = faces->add_subcommand("detect", "find faces: boxes, scores and 68 landmarks");
  g_detect->add_option("image", g_faces.image, "photo (JPEG, PNG, ...)")->required();
  g_detect->add_option("--draw", g_faces.draw, "also write the image with boxes, scores and landmarks drawn");
  g_detect->add_option("--min-confidence", g_faces.min_confidence, "detector score threshold (exclusive)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  AddCommon(g_detect);

  g_embed = faces->add_subcommand(
      "embed", "detect every face of each image and compute its 128-d descriptor");
  g_embed->add_option("images", g_faces.images, "photos (JPEG, PNG, ...)")->required();
  g_embed->add_option("--min-confidence", g_faces.min_confidence, "detector score threshold (exclusive)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  AddCommon(g_embed);

  g_compare = faces->add_subcommand(
      "compare", "compare the faces of two photos: Euclidean distance, cosine similarity, same person?");
  g_compare->add_option("a", g_faces.a, "first photo")->required();
  g_compare->add_option("b", g_faces.b, "second photo")->required();
  g_compare->footer(
      "With one face in each photo those two are compared; otherwise the closest pair. "
      "same_person: Euclidean distance below 0.6 (face-api's threshold).");
  AddCommon(g_compare);
}

int RunFacesCommand(const CLI::App& app) {
  (void)app;
  if (g_detect && g_detect->parsed()) return RunDetect();
  if (g_embed && g_embed->parsed()) return RunEmbed();
  if (g_compare && g_compare->parsed()) return RunCompare();
  return -1;
}

}  // namespace farm::agent
