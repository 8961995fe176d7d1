#include "show_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <cstdio>
#include <ctime>

#include "farm/store/store.h"
#include "render_files.h"
#include "render_table.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct ShowArgs {
  std::int64_t render_id = 0;
  std::string sweep;
  std::string artifacts;
};

// Seconds since the epoch in ms as ISO-8601 UTC.
Json TimeJson(std::optional<std::int64_t> ms) {
  if (!ms) return nullptr;
  const std::time_t seconds = static_cast<std::time_t>(*ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[96];  // room for any int in every field (-Wformat-truncation)
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(*ms % 1000));
  return text;
}

template <typename T>
Json OptJson(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

class Shower {
 public:
  Shower(farm::store::Store& store, fs::path root) : store_(store), root_(std::move(root)) {}

  Json ArtifactJson(std::optional<std::int64_t> id) {
    if (!id) return nullptr;
    auto artifact = store_.GetArtifact(*id);
    if (!artifact.ok()) return nullptr;
    std::error_code ec;
    const std::string path = ArtifactFile(root_, *artifact);
    return {{"path", path}, {"sha256", artifact->sha256}, {"size", artifact->size},
            {"exists", fs::is_regular_file(path, ec)}};
  }

  std::string IdentityName(std::optional<std::int64_t> id) {
    if (!id) return "";
    auto found = identities_.find(*id);
    if (found != identities_.end()) return found->second;
    auto identity = store_.GetIdentity(*id);
    return identities_[*id] = identity.ok() ? identity->name : std::to_string(*id);
  }

  std::string SweepName(std::int64_t id) {
    auto sweep = store_.GetSweep(id);
    return sweep.ok() ? sweep->name : "";
  }

  farm::StatusOr<Json> Build(const farm::store::Render& render, std::optional<std::int64_t> sweep_id,
                             const std::string& db_path) {
    Json out = {{"ok", true}};
    out["render"] = {{"id", render.id},
                     {"param_hash", render.param_hash},
                     {"job_id", OptJson(render.job_id)},
                     {"created", TimeJson(render.created_at_ms)},
                     {"rendered", TimeJson(render.rendered_at_ms)}};
    out["params"] = Json::parse(render.params_json, nullptr, false);

    // The recipe record: stages as applied (defaults filled in).
    out["record"] = nullptr;
    if (render.record_artifact_id) {
      if (auto artifact = store_.GetArtifact(*render.record_artifact_id); artifact.ok()) {
        if (auto text = ReadWholeFile(ArtifactFile(root_, *artifact)); text.ok()) {
          Json record = Json::parse(*text, nullptr, false);
          if (!record.is_discarded()) out["record"] = record;
        }
      }
    }

    // Every sweep's result; the chosen sweep first.
    FARM_ASSIGN_OR_RETURN(std::vector<farm::store::RenderResult> results, store_.ListRenderResults(render.id));
    std::stable_sort(results.begin(), results.end(), [&](const auto& a, const auto& b) {
      return sweep_id && a.sweep_id == *sweep_id && b.sweep_id != *sweep_id;
    });
    if (sweep_id && (results.empty() || results.front().sweep_id != *sweep_id)) {
      return farm::NotFound("render " + std::to_string(render.id) + " has no result in sweep " +
                            std::to_string(*sweep_id));
    }
    Json results_json = Json::array();
    std::set<std::int64_t> jobs;
    if (render.job_id) jobs.insert(*render.job_id);
    for (const farm::store::RenderResult& r : results) {
      if (r.job_id) jobs.insert(*r.job_id);
      Json image = ArtifactJson(r.artifact_id);
      results_json.push_back({{"sweep", r.sweep_id},
                              {"sweep_name", SweepName(r.sweep_id)},
                              {"job_id", OptJson(r.job_id)},
                              {"score", OptJson(r.score)},
                              {"euclidean", OptJson(r.euclidean)},
                              {"faces", OptJson(r.faces_found)},
                              {"identity", r.identity_id ? Json(IdentityName(r.identity_id)) : Json(nullptr)},
                              {"agent", r.agent_id.empty() ? Json(nullptr) : Json(r.agent_id)},
                              {"agent_version", r.agent_version.empty() ? Json(nullptr) : Json(r.agent_version)},
                              {"seconds", OptJson(r.seconds)},
                              {"image_sha256", r.image_sha256.empty() ? Json(nullptr) : Json(r.image_sha256)},
                              {"image", image.is_null() ? Json(nullptr) : image["path"]},
                              {"rendered", TimeJson(r.rendered_at_ms)}});
    }
    FARM_ASSIGN_OR_RETURN(std::vector<farm::store::Score> scores, store_.ListScores(render.id));
    Json scores_json = Json::array();
    for (const farm::store::Score& s : scores) {
      scores_json.push_back({{"identity", IdentityName(s.identity_id)},
                             {"metric", s.metric},
                             {"similarity", OptJson(s.similarity)},
                             {"faces", s.faces_found},
                             {"reason", s.reason},
                             {"model_version", s.model_version},
                             {"job_id", OptJson(s.job_id)}});
    }
    out["scores"] = {{"results", results_json}, {"scores", scores_json}};

    // Timings: what each attempt of the render's jobs measured (seconds_<stage>).
    Json timings = Json::array();
    for (std::int64_t job : jobs) {
      FARM_ASSIGN_OR_RETURN(std::vector<farm::store::Attempt> attempts, store_.ListAttempts(job));
      for (const farm::store::Attempt& a : attempts) {
        const Json metrics = a.metrics_json.empty() ? Json::object() : Json::parse(a.metrics_json, nullptr, false);
        Json seconds = Json::object();
        if (metrics.is_object()) {
          for (const auto& [key, value] : metrics.items()) {
            if (key.rfind("seconds_", 0) == 0 && value.is_number()) seconds[key.substr(8)] = value;
          }
        }
        timings.push_back({{"job_id", job},
                           {"attempt", a.attempt},
                           {"agent", a.agent_id},
                           {"outcome", a.outcome ? Json(farm::store::Name(*a.outcome)) : Json(nullptr)},
                           {"error", a.error},
                           {"seconds", seconds}});
      }
    }
    out["timings"] = timings;

    Json files = {{"artifact_root", root_.string()},
                  {"image", ArtifactJson(render.artifact_id)},
                  {"faces", ArtifactJson(render.faces_artifact_id)},
                  {"record", ArtifactJson(render.record_artifact_id)}};
    Json stages = Json::object();
    FARM_ASSIGN_OR_RETURN(auto stage_images, store_.ListRenderStageImages(render.id));
    for (const auto& [stage, artifact_id] : stage_images) stages[stage] = ArtifactJson(artifact_id);
    files["stages"] = stages;
    out["files"] = files;

    FARM_ASSIGN_OR_RETURN(std::string text, RenderParametersText(store_, render, root_));
    out["parameters"] = text;
    std::error_code ec;
    const std::string db = fs::absolute(db_path, ec).string();
    out["reproduce"] = "farmctl reproduce " + std::to_string(render.id) + " --db '" + db + "' --artifacts '" +
                       root_.string() + "'";
    return out;
  }

 private:
  farm::store::Store& store_;
  fs::path root_;
  std::map<std::int64_t, std::string> identities_;
};

std::string Plain(const Json& value) {
  if (value.is_string()) return value.get<std::string>().empty() ? "-" : value.get<std::string>();
  return value.dump();
}

void PrintShow(std::ostream& out, const Json& show) {
  const Json& render = show["render"];
  out << "render " << render["id"] << "  " << render["param_hash"].get<std::string>() << "\n"
      << "  created " << CellText(render["created"]) << "  rendered " << CellText(render["rendered"]) << "\n";
  out << "\nparams\n";
  if (show["params"].is_object()) {
    for (const auto& [key, value] : show["params"].items()) out << "  " << key << ": " << Plain(value) << "\n";
  }
  out << "\nrecipe record\n";
  if (show["record"].is_object() && show["record"].contains("stages")) {
    for (const Json& stage : show["record"]["stages"]) {
      out << "  " << Plain(stage.value("stage", Json(""))) << "  " << stage.value("settings", Json::object()).dump()
          << "\n";
    }
    out << "  final size " << show["record"].value("width", 0) << "x" << show["record"].value("height", 0) << "\n";
  } else {
    out << "  - (no record)\n";
  }
  out << "\ntimings\n";
  if (show["timings"].empty()) out << "  - (never attempted)\n";
  for (const Json& t : show["timings"]) {
    out << "  job " << t["job_id"] << " attempt " << t["attempt"] << " on " << Plain(t["agent"]) << " ("
        << CellText(t["outcome"]) << ")";
    for (const auto& [stage, seconds] : t["seconds"].items()) out << "  " << stage << " " << CellText(seconds) << "s";
    out << "\n";
  }
  out << "\nscores\n";
  std::vector<std::string> columns = {"sweep", "sweep_name", "score", "euclidean", "faces", "identity", "agent", "seconds", "image_sha256"};
  Json rows = show["scores"]["results"];
  for (Json& row : rows) {
    if (row["image_sha256"].is_string()) row["image_sha256"] = row["image_sha256"].get<std::string>().substr(0, 12);
  }
  if (rows.empty()) {
    out << "  - (no sweep results)\n";
  } else {
    std::ostringstream table;
    PrintRowsTable(table, columns, rows);
    std::istringstream lines(table.str());
    for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  }
  for (const Json& s : show["scores"]["scores"]) {
    out << "  " << Plain(s["metric"]) << " against " << Plain(s["identity"]) << ": " << CellText(s["similarity"])
        << " (faces " << s["faces"] << ", " << Plain(s["model_version"])
        << (s["reason"].get<std::string>().empty() ? "" : ", " + s["reason"].get<std::string>()) << ")\n";
  }
  out << "\nfiles\n";
  const Json& files = show["files"];
  for (const char* name : {"image", "faces", "record"}) {
    out << "  " << name << std::string(8 - std::string(name).size(), ' ')
        << (files[name].is_object() ? files[name]["path"].get<std::string>() +
                                          (files[name]["exists"].get<bool>() ? "" : " (missing)")
                                    : std::string("-"))
        << "\n";
  }
  for (const auto& [stage, file] : files["stages"].items()) {
    out << "  stage " << stage << "  " << (file.is_object() ? file["path"].get<std::string>() : std::string("-"))
        << "\n";
  }
  for (const Json& r : show["scores"]["results"]) {
    if (r["image"].is_string() && (!files["image"].is_object() || r["image"] != files["image"]["path"])) {
      out << "  image of sweep " << r["sweep"] << "  " << r["image"].get<std::string>() << "\n";
    }
  }
  out << "\nparameters\n" << show["parameters"].get<std::string>() << "\n";
  out << "\nreproduce\n  " << show["reproduce"].get<std::string>() << "\n";
}

int Run(const GlobalOptions& options, const ShowArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  std::optional<std::int64_t> sweep_id;
  if (!args.sweep.empty()) {
    auto id = ResolveSweep(**store, args.sweep);
    if (!id.ok()) return ReportError(options, id.status());
    sweep_id = *id;
  }
  auto render = (*store)->GetRender(args.render_id);
  if (!render.ok()) return ReportError(options, render.status());
  Shower shower(**store, ArtifactRoot(path, args.artifacts));
  auto show = shower.Build(*render, sweep_id, path);
  if (!show.ok()) return ReportError(options, show.status());
  if (options.json) {
    std::cout << show->dump(2) << "\n";
  } else {
    PrintShow(std::cout, *show);
  }
  return kExitOk;
}

}  // namespace

void AddShowCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<ShowArgs>();
  CLI::App* show = app.add_subcommand(
      "show",
      "Everything about one render: params, recipe record, timings, scores, files, its A1111 "
      "parameters text and the reproduce line");
  show->add_option("RENDER", args->render_id, "Render id")->required()->check(CLI::PositiveNumber);
  show->add_option("--sweep", args->sweep, "The sweep (id or name) whose result comes first");
  show->add_option("--artifacts", args->artifacts,
                   "Artifact root of the farm (default: 'artifacts' next to the database)");
  show->add_option("--db", options.db_path,
                   "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  show->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
