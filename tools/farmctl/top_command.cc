#include "top_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "farm/store/store.h"
#include "render_files.h"
#include "render_query_run.h"
#include "render_table.h"

namespace farmctl {
namespace {

using Json = nlohmann::ordered_json;

struct TopArgs {
  std::string sweep;
  std::int64_t k = 20;
  std::string where;
  std::string artifacts;
};

int Run(const GlobalOptions& options, const TopArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto sweep_id = ResolveSweep(**store, args.sweep);
  if (!sweep_id.ok()) return ReportError(options, sweep_id.status());
  auto sweep = (*store)->GetSweep(*sweep_id);
  if (!sweep.ok()) return ReportError(options, sweep.status());

  farm::query::RenderQuery query;
  query.sweep_ids = {*sweep_id};
  query.columns = {"sweep", "faces", "euclidean", "image_sha256"};
  if (!args.where.empty()) {
    // Checked alone first, so the caret points into what the user wrote.
    query.where = args.where;
    if (auto checked = farm::query::BuildRenderQuery(query); !checked.ok()) return ReportQueryError(checked.status());
    query.where = "(" + args.where + ") AND score IS NOT NULL";
  } else {
    query.where = "score IS NOT NULL";
  }
  query.order_by = "score desc, id";
  query.limit = args.k;
  RenderRowsOrExit run = RunRenderQuery(options, **store, query);
  if (run.exit_code != kExitOk) return run.exit_code;

  const std::filesystem::path root = ArtifactRoot(path, args.artifacts);
  Json renders = Json::array();
  for (const Json& row : run.value.rows) {
    const std::int64_t id = row.value("id", std::int64_t{0});
    auto render = (*store)->GetRender(id);
    if (!render.ok()) return ReportError(options, render.status());
    auto text = RenderParametersText(**store, *render, root);
    if (!text.ok()) return ReportError(options, text.status());
    Json image = nullptr;
    if (row["image_sha256"].is_string()) {
      if (auto artifact = (*store)->GetArtifactBySha256(row["image_sha256"].get<std::string>()); artifact.ok()) {
        image = ArtifactFile(root, *artifact);
      }
    }
    renders.push_back({{"rank", renders.size() + 1},
                       {"id", id},
                       {"param_hash", render->param_hash},
                       {"score", row["score"]},
                       {"euclidean", row["euclidean"]},
                       {"faces", row["faces"]},
                       {"image", image},
                       {"parameters", *text}});
  }
  if (options.json) {
    std::cout << Json({{"ok", true}, {"sweep_id", *sweep_id}, {"sweep", sweep->name}, {"renders", renders}}).dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "sweep " << *sweep_id << " (" << sweep->name << "): the best " << renders.size()
            << (renders.size() == 1 ? " render" : " renders") << " by face-ID score (cosine, higher is better)\n";
  for (const Json& r : renders) {
    std::cout << "\n#" << r["rank"].get<std::size_t>() << "  render " << r["id"].get<std::int64_t>()
              << "  score " << CellText(r["score"]) << "  faces " << CellText(r["faces"]) << "  "
              << (r["image"].is_string() ? r["image"].get<std::string>() : std::string("(no image)")) << "\n"
              << r["parameters"].get<std::string>() << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddTopCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<TopArgs>();
  CLI::App* top = app.add_subcommand(
      "top", "A sweep's best renders by face-ID score, each with its A1111 parameters text to copy");
  top->add_option("SWEEP", args->sweep, "Sweep id or name")->required();
  top->add_option("-k", args->k, "How many renders")->check(CLI::PositiveNumber)->capture_default_str();
  top->add_option("--where", args->where, "Only renders matching this expression (see farmctl renders --help)");
  top->add_option("--artifacts", args->artifacts,
                  "Artifact root of the farm (default: 'artifacts' next to the database)");
  top->add_option("--db", options.db_path,
                  "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  top->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
