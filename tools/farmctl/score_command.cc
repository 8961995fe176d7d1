#include "score_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "face_embedding.h"
#include "farm/faceid/face_score.h"
#include "farm/store/store.h"
#include "program_path.h"

namespace farmctl {
namespace {

using farm::faceid::FaceScore;
using farm::faceid::Metric;
using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct ScoreArgs {
  std::string image;
  std::string identity;
  std::int64_t render_id = 0;  // 0: print only
  std::string agent_path;
};

// The identity's descriptors, all from one model version (returned in *model).
farm::StatusOr<farm::faceid::IdentityReference> ReferenceOf(const farm::store::Identity& identity,
                                                            std::string* model) {
  farm::faceid::IdentityReference reference;
  for (const farm::store::IdentityPhoto& photo : identity.photos) {
    if (photo.descriptor.empty()) continue;
    if (model->empty()) *model = photo.descriptor_model;
    if (*model != photo.descriptor_model) {
      return farm::FailedPrecondition("identity '" + identity.name +
                                      "' mixes descriptor models (" + *model + ", " +
                                      photo.descriptor_model + "); re-create it");
    }
    reference.descriptors.push_back(photo.descriptor);
  }
  if (reference.descriptors.empty()) {
    return farm::FailedPrecondition("identity '" + identity.name +
                                    "' has no analysed photo to score against");
  }
  return reference;
}

Json ScoreJson(const FaceScore& score) {
  return {{"similarity", score.similarity ? Json(*score.similarity) : Json(nullptr)},
          {"best_face", score.best_face},
          {"reason", score.reason}};
}

int Run(const GlobalOptions& options, const ScoreArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  // Writing only when storing: a plain score works on a database farmd is writing.
  auto store = Store::Open(path, args.render_id > 0 ? OpenMode::kReadWrite : OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto identity = (*store)->GetIdentityByName(args.identity);
  if (!identity.ok()) return ReportError(options, identity.status());
  std::string identity_model;
  auto reference = ReferenceOf(*identity, &identity_model);
  if (!reference.ok()) return ReportError(options, reference.status());
  if (args.render_id > 0) {
    auto render = (*store)->GetRender(args.render_id);
    if (!render.ok()) return ReportError(options, render.status());
  }

  auto embedding = EmbedImages(FindAgentProgram(args.agent_path), options.models_dir, {args.image});
  if (!embedding.ok()) return ReportError(options, embedding.status());
  const EmbeddedImage& image = embedding->images.front();
  if (!image.ok) return ReportError(options, farm::InvalidArgument(args.image + ": " + image.error));
  if (embedding->model_version != identity_model) {
    return ReportError(
        options, farm::FailedPrecondition(
                     "identity '" + args.identity + "' was embedded with descriptor model " +
                     identity_model + ", but farm-agent computes " + embedding->model_version +
                     ": descriptors of different models cannot be compared. Add the identity "
                     "again (farmctl identity add) with the current models."));
  }

  std::vector<farm::faceid::Descriptor> faces;
  for (const EmbeddedFace& face : image.faces) faces.push_back(face.descriptor);
  const FaceScore cosine = farm::faceid::ScoreFaces(faces, *reference, Metric::kCosine);
  const FaceScore euclidean = farm::faceid::ScoreFaces(faces, *reference, Metric::kEuclidean);

  std::vector<std::int64_t> score_ids;
  if (args.render_id > 0) {
    std::vector<farm::store::NewScore> rows;
    for (const auto& [metric, score] : {std::pair{Metric::kCosine, &cosine}, std::pair{Metric::kEuclidean, &euclidean}}) {
      farm::store::NewScore row;
      row.render_id = args.render_id;
      row.identity_id = identity->id;
      row.metric = std::string(farm::faceid::MetricName(metric));
      row.model_version = embedding->model_version;
      row.similarity = score->similarity;
      row.faces_found = score->faces_found;
      row.reason = score->reason;
      rows.push_back(std::move(row));
    }
    auto ids = (*store)->InsertScores(rows);
    if (!ids.ok()) return ReportError(options, ids.status());
    score_ids = *ids;
  }

  const bool same_person =
      euclidean.similarity && *euclidean.similarity < farm::faceid::kSamePersonEuclidean;
  if (options.json) {
    Json out = {{"ok", true},
                {"image", args.image},
                {"identity", args.identity},
                {"identity_id", identity->id},
                {"reference_photos", reference->descriptors.size()},
                {"model_version", embedding->model_version},
                {"faces_found", cosine.faces_found},
                {"cosine", ScoreJson(cosine)},
                {"euclidean", ScoreJson(euclidean)},
                {"same_person", same_person}};
    if (args.render_id > 0) {
      out["render_id"] = args.render_id;
      out["score_ids"] = score_ids;
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << args.image << " vs identity '" << args.identity << "' ("
            << reference->descriptors.size() << " photos): " << cosine.faces_found
            << (cosine.faces_found == 1 ? " face" : " faces");
  if (!cosine.similarity) {
    std::cout << "; no score: " << cosine.reason << "\n";
  } else {
    char text[256];
    std::snprintf(text, sizeof(text),
                  ", best face #%d\n  cosine similarity   %.4f  (ranking metric; higher is more alike)\n"
                  "  euclidean distance  %.4f  (lower is more alike; below %.1f: %s)\n",
                  cosine.best_face, *cosine.similarity, euclidean.similarity.value_or(0),
                  farm::faceid::kSamePersonEuclidean, same_person ? "same person" : "not the same person");
    std::cout << text;
    if (euclidean.best_face != cosine.best_face) {
      std::cout << "  (the closest face by distance is #" << euclidean.best_face << ")\n";
    }
  }
  if (args.render_id > 0) {
    std::cout << "stored for render " << args.render_id << " (model " << embedding->model_version
              << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddScoreCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* score = app.add_subcommand(
      "score",
      "Face-ID score of an image against an identity: cosine similarity (ranking) and "
      "Euclidean distance of its best face; --render stores both in the scores table");
  score->add_option("image", args->image, "Image to score (a render, a photo)")->required();
  score->add_option("--identity", args->identity, "Identity name (farmctl identity list)")->required();
  score->add_option("--render", args->render_id, "Store the scores for this render id")
      ->check(CLI::PositiveNumber);
  score->add_option("--agent", args->agent_path, "farm-agent executable (default: the build's)");
  score->add_option("--db", options.db_path,
                    "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  score->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
