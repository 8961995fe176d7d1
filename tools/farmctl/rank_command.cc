#include "rank_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "farm/store/store.h"
#include "rank_table.h"

namespace farmctl {
namespace {

using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

int Run(const GlobalOptions& options, const RankRequest& request) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = Store::Open(path, OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto ranking = LoadRanking(**store, request);
  if (!ranking.ok()) return ReportError(options, ranking.status());
  if (options.json) {
    std::cout << Json({{"ok", true},
                       {"sweep_id", ranking->sweep_id},
                       {"sweep", ranking->sweep_name},
                       {"identity", ranking->identity.empty() ? Json(nullptr) : Json(ranking->identity)},
                       {"metric", ranking->metric},
                       {"order", ranking->descending ? "descending" : "ascending"},
                       {"renders", RankingRowsJson(*ranking)}})
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  PrintRanking(std::cout, *ranking);
  return kExitOk;
}

}  // namespace

void AddRankCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto request = std::make_shared<RankRequest>();
  CLI::App* rank = app.add_subcommand(
      "rank",
      "A sweep's renders ranked by face-ID score against an identity, best first; renders "
      "without a usable score last with the reason");
  rank->add_option("SWEEP_ID", request->sweep_id, "Sweep id")->required()->check(CLI::PositiveNumber);
  rank->add_option("--identity", request->identity,
                   "Identity name (default: the only identity the sweep's scores name)");
  rank->add_option("--metric", request->metric, "cosine (descending) or euclidean (ascending)")
      ->check(CLI::IsMember({"cosine", "euclidean"}))
      ->capture_default_str();
  rank->add_option("--limit", request->limit, "Show at most N renders")->check(CLI::NonNegativeNumber);
  rank->add_option("--db", options.db_path,
                   "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  rank->callback([&options, &exit_code, request] { exit_code = Run(options, *request); });
}

}  // namespace farmctl
