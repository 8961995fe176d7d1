#include "export_command.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>

#include "farm/store/store.h"
#include "render_files.h"
#include "render_query_run.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct ExportArgs {
  std::vector<std::int64_t> render_ids;
  std::string where;
  std::vector<std::string> sweeps;
  std::string output;
  std::string artifacts;
};

// One render to export: the image of the chosen sweep's result, or the render's own.
struct Item {
  farm::store::Render render;
  farm::store::Artifact image;
  std::string base;  // <id>-<hash8>
};

struct Tally {
  int written = 0;
  int unchanged = 0;
  std::vector<std::string> conflicts;
};

// Writes `bytes` at `path` unless a file is there: same bytes count as unchanged, other
// bytes are a conflict and stay as they are.
farm::Status PutFile(const fs::path& path, const std::string& bytes, Tally& tally) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto existing = ReadWholeFile(path.string());
    if (existing.ok() && *existing == bytes) {
      ++tally.unchanged;
    } else {
      tally.conflicts.push_back(path.string());
    }
    return farm::Status::Ok();
  }
  fs::create_directories(path.parent_path(), ec);
  const fs::path temp = path.string() + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << bytes;
    out.close();
    if (!out) return farm::Unavailable("cannot write " + temp.string());
  }
  fs::rename(temp, path, ec);
  if (ec) return farm::Unavailable("cannot move " + temp.string() + " to " + path.string() + ": " + ec.message());
  ++tally.written;
  return farm::Status::Ok();
}

farm::StatusOr<std::vector<Item>> Collect(farm::store::Store& store, const GlobalOptions& options,
                                          const ExportArgs& args, const std::vector<std::int64_t>& sweep_ids,
                                          int* exit_code) {
  std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> wanted;  // render, sweep
  if (!args.where.empty()) {
    farm::query::RenderQuery query;
    query.sweep_ids = sweep_ids;
    query.where = args.where;
    query.columns = {"sweep"};
    query.order_by = "id, sweep";
    RenderRowsOrExit run = RunRenderQuery(options, store, query);
    if (run.exit_code != kExitOk) {
      *exit_code = run.exit_code;
      return farm::Internal("query refused");
    }
    for (const Json& row : run.value.rows) {
      wanted.push_back({row.value("id", std::int64_t{0}), row.value("sweep", std::int64_t{0})});
    }
  }
  for (std::int64_t id : args.render_ids) {
    wanted.push_back({id, sweep_ids.empty() ? std::nullopt : std::optional<std::int64_t>(sweep_ids.front())});
  }
  std::vector<Item> items;
  std::set<std::int64_t> seen;
  for (const auto& [id, sweep] : wanted) {
    if (!seen.insert(id).second) continue;  // a render in several sweeps: exported once
    auto render = store.GetRender(id);
    if (!render.ok()) {
      return render.status().code() == farm::StatusCode::kNotFound
                 ? farm::NotFound("render " + std::to_string(id) + " does not exist: nothing exported")
                 : render.status();
    }
    std::optional<std::int64_t> image_id = render->artifact_id;
    if (sweep) {
      // The chosen sweep's result may be a re-render with its own image.
      auto result = store.GetRenderResult(*sweep, id);
      if (result.ok() && result->artifact_id) image_id = result->artifact_id;
    }
    if (!image_id) {
      return farm::FailedPrecondition("render " + std::to_string(id) +
                                      " has no stored image (not rendered yet): nothing exported");
    }
    FARM_ASSIGN_OR_RETURN(farm::store::Artifact image, store.GetArtifact(*image_id));
    items.push_back({*render, image, std::to_string(id) + "-" + render->param_hash.substr(0, 8)});
  }
  return items;
}

int Run(const GlobalOptions& options, const ExportArgs& args) {
  if (args.render_ids.empty() == args.where.empty()) {
    std::cerr << "farmctl export: give render ids or --where EXPR (one of them)\n";
    return kExitUsage;
  }
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto sweep_ids = ResolveSweeps(**store, args.sweeps);
  if (!sweep_ids.ok()) return ReportError(options, sweep_ids.status());
  int exit_code = kExitOk;
  auto items = Collect(**store, options, args, *sweep_ids, &exit_code);
  if (exit_code != kExitOk) return exit_code;
  if (!items.ok()) return ReportError(options, items.status());

  const fs::path root = ArtifactRoot(path, args.artifacts);
  std::error_code absolute_error;
  const fs::path dir = fs::absolute(args.output, absolute_error).lexically_normal();
  for (const Item& item : *items) {  // every image is there before anything is written
    std::error_code missing;
    const std::string file = ArtifactFile(root, item.image);
    if (!fs::is_regular_file(file, missing)) {
      return ReportError(options, farm::NotFound("render " + std::to_string(item.render.id) + ": stored image " + file +
                                                 " does not exist (pass --artifacts DIR, the farm's artifact "
                                                 "root): nothing exported"));
    }
  }
  Tally tally;
  Json exported = Json::array();
  for (const Item& item : *items) {
    const std::string context = "render " + std::to_string(item.render.id);
    auto png = ReadWholeFile(ArtifactFile(root, item.image));
    if (!png.ok()) {
      return ReportError(options, png.status().WithContext(context + " image (pass --artifacts DIR, the farm's artifact root)"));
    }
    auto text = RenderParametersText(**store, item.render, root);
    if (!text.ok()) return ReportError(options, text.status());
    auto scores = (*store)->ListScores(item.render.id);
    auto results = (*store)->ListRenderResults(item.render.id);
    if (!scores.ok() || !results.ok()) return ReportError(options, !scores.ok() ? scores.status() : results.status());
    Json scores_json = Json::array();
    for (const farm::store::Score& s : *scores) {
      scores_json.push_back({{"identity_id", s.identity_id}, {"metric", s.metric}, {"model_version", s.model_version},
                             {"similarity", s.similarity ? Json(*s.similarity) : Json(nullptr)},
                             {"faces", s.faces_found}, {"reason", s.reason}});
    }
    Json results_json = Json::array();
    for (const farm::store::RenderResult& r : *results) {
      results_json.push_back({{"sweep", r.sweep_id},
                              {"score", r.score ? Json(*r.score) : Json(nullptr)},
                              {"euclidean", r.euclidean ? Json(*r.euclidean) : Json(nullptr)},
                              {"faces", r.faces_found ? Json(*r.faces_found) : Json(nullptr)},
                              {"agent", r.agent_id},
                              {"image_sha256", r.image_sha256}});
    }
    Json sidecar = {{"render_id", item.render.id},
                    {"param_hash", item.render.param_hash},
                    {"image", {{"file", item.base + ".png"}, {"sha256", item.image.sha256}}},
                    {"params", Json::parse(item.render.params_json, nullptr, false)},
                    {"scores", scores_json},
                    {"results", results_json},
                    {"parameters", *text}};
    Json entry = {{"render_id", item.render.id},
                  {"param_hash", item.render.param_hash},
                  {"png", (dir / (item.base + ".png")).string()},
                  {"json", (dir / (item.base + ".json")).string()},
                  {"stages", Json::array()}};
    farm::Status put = PutFile(dir / (item.base + ".png"), *png, tally);
    if (put.ok()) put = PutFile(dir / (item.base + ".json"), sidecar.dump(2) + "\n", tally);
    if (!put.ok()) return ReportError(options, put.WithContext(context));
    auto stages = (*store)->ListRenderStageImages(item.render.id);
    if (!stages.ok()) return ReportError(options, stages.status());
    for (const auto& [stage, artifact_id] : *stages) {
      auto artifact = (*store)->GetArtifact(artifact_id);
      if (!artifact.ok()) return ReportError(options, artifact.status().WithContext(context + " stage " + stage));
      auto bytes = ReadWholeFile(ArtifactFile(root, *artifact));
      if (!bytes.ok()) return ReportError(options, bytes.status().WithContext(context + " stage " + stage));
      const fs::path file = dir / item.base / (stage + ".png");
      if (farm::Status s = PutFile(file, *bytes, tally); !s.ok()) return ReportError(options, s.WithContext(context));
      entry["stages"].push_back(file.string());
    }
    exported.push_back(entry);
  }
  const bool clean = tally.conflicts.empty();
  if (options.json) {
    std::cout << Json({{"ok", clean}, {"dir", dir.string()}, {"renders", exported}, {"written", tally.written},
                       {"unchanged", tally.unchanged}, {"conflicts", tally.conflicts}})
                     .dump(2)
              << "\n";
  } else {
    for (const std::string& conflict : tally.conflicts) {
      std::cerr << "farmctl: " << conflict << " exists with other content: not overwritten\n";
    }
    std::cout << "exported " << exported.size() << (exported.size() == 1 ? " render" : " renders") << " to "
              << dir.string() << ": " << tally.written << " files written, " << tally.unchanged << " unchanged, "
              << tally.conflicts.size() << " not overwritten\n";
  }
  return clean ? kExitOk : kExitFailure;
}

}  // namespace

void AddExportCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* exp = app.add_subcommand(
      "export",
      "Copy renders out as <id>-<hash8>.png with a .json of params, scores and A1111 text, and "
      "their stage images when kept");
  exp->add_option("RENDER", args->render_ids, "Render ids")->check(CLI::PositiveNumber);
  exp->add_option("--where", args->where, "Every render matching this expression (see farmctl renders --help)");
  exp->add_option("--sweep", args->sweeps, "Only these sweeps (id or name); their images");
  exp->add_option("-o,--output", args->output, "Folder to write into (created when missing)")->required();
  exp->add_option("--artifacts", args->artifacts,
                  "Artifact root of the farm (default: 'artifacts' next to the database)");
  exp->add_option("--db", options.db_path,
                  "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  exp->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
