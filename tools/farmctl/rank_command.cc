#include "rank_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "farm/store/store.h"

namespace farmctl {
namespace {

using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct RankArgs {
  std::int64_t sweep_id = 0;
  std::string identity;
  std::string metric = "cosine";
  int limit = 0;
};

struct RankedRender {
  const farm::store::Render* render = nullptr;
  const farm::store::Score* score = nullptr;  // null: not scored
};

// 0 scored, 1 scored NULL, 2 not scored.
int Group(const RankedRender& r) {
  if (r.score == nullptr) return 2;
  return r.score->similarity ? 0 : 1;
}

std::string Number(double value, const char* format) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

int Run(const GlobalOptions& options, const RankArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = Store::Open(path, OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto sweep = (*store)->GetSweep(args.sweep_id);
  if (!sweep.ok()) return ReportError(options, sweep.status());
  farm::store::RenderFilter filter;
  filter.sweep_id = args.sweep_id;
  auto renders = (*store)->ListRenders(filter);
  if (!renders.ok()) return ReportError(options, renders.status());
  auto scores = (*store)->ListScoresForSweep(args.sweep_id);
  if (!scores.ok()) return ReportError(options, scores.status());

  // Which identity.
  std::int64_t identity_id = 0;
  std::string identity_name = args.identity;
  if (!args.identity.empty()) {
    auto identity = (*store)->GetIdentityByName(args.identity);
    if (!identity.ok()) return ReportError(options, identity.status());
    identity_id = identity->id;
  } else {
    std::set<std::int64_t> ids;
    for (const farm::store::Score& s : *scores) ids.insert(s.identity_id);
    if (ids.size() > 1) {
      std::string names;
      for (std::int64_t id : ids) {
        auto identity = (*store)->GetIdentity(id);
        names += (names.empty() ? "" : ", ") + (identity.ok() ? identity->name : std::to_string(id));
      }
      return ReportError(options, farm::InvalidArgument("sweep " + std::to_string(args.sweep_id) +
                                                        " has scores for several identities (" +
                                                        names + "): pass --identity NAME"));
    }
    if (ids.size() == 1) {
      identity_id = *ids.begin();
      auto identity = (*store)->GetIdentity(identity_id);
      if (!identity.ok()) return ReportError(options, identity.status());
      identity_name = identity->name;
    }
  }

  // The newest score row (highest id) of each render for this identity and metric.
  std::map<std::int64_t, const farm::store::Score*> best;
  for (const farm::store::Score& s : *scores) {
    if (s.identity_id != identity_id || s.metric != args.metric) continue;
    const farm::store::Score*& slot = best[s.render_id];
    if (slot == nullptr || s.id > slot->id) slot = &s;
  }
  std::vector<RankedRender> ranked;
  for (const farm::store::Render& render : *renders) {
    auto found = best.find(render.id);
    ranked.push_back({&render, found == best.end() ? nullptr : found->second});
  }
  const bool descending = args.metric == "cosine";
  std::stable_sort(ranked.begin(), ranked.end(), [descending](const RankedRender& a, const RankedRender& b) {
    const int ga = Group(a), gb = Group(b);
    if (ga != gb) return ga < gb;
    if (ga == 0 && *a.score->similarity != *b.score->similarity) {
      return descending ? *a.score->similarity > *b.score->similarity
                        : *a.score->similarity < *b.score->similarity;
    }
    return a.render->id < b.render->id;
  });
  if (args.limit > 0 && ranked.size() > static_cast<std::size_t>(args.limit)) ranked.resize(args.limit);

  if (options.json) {
    Json rows = Json::array();
    int rank = 0;
    for (const RankedRender& r : ranked) {
      const farm::RenderParams& p = r.render->params;
      Json row = {{"rank", ++rank},
                  {"render_id", r.render->id},
                  {"param_hash", r.render->param_hash},
                  {"seed", p.seed},
                  {"sampler", p.sampler},
                  {"cfg", p.cfg},
                  {"clip_skip", p.clip_skip},
                  {"pose", p.pose},
                  {"tone", p.tone},
                  {"scored", r.score != nullptr},
                  {"similarity", r.score && r.score->similarity ? Json(*r.score->similarity) : Json(nullptr)},
                  {"faces", r.score ? Json(r.score->faces_found) : Json(nullptr)},
                  {"reason", r.score ? r.score->reason : std::string("not scored")},
                  {"model_version", r.score ? r.score->model_version : std::string()}};
      rows.push_back(std::move(row));
    }
    std::cout << Json({{"ok", true},
                       {"sweep_id", args.sweep_id},
                       {"sweep", sweep->name},
                       {"identity", identity_name.empty() ? Json(nullptr) : Json(identity_name)},
                       {"metric", args.metric},
                       {"order", descending ? "descending" : "ascending"},
                       {"renders", rows}})
                     .dump(2)
              << "\n";
    return kExitOk;
  }

  std::cout << "sweep " << args.sweep_id << " (" << sweep->name << "): " << renders->size()
            << " renders, ranked by " << args.metric << (descending ? " (higher is better)" : " (lower is better)")
            << (identity_name.empty() ? std::string(", no scores yet") : " against '" + identity_name + "'")
            << "\n";
  std::vector<std::vector<std::string>> table = {
      {"RENDER", "SEED", "SAMPLER", "CFG", "CLIP SKIP", "POSE", "TONE", "SIMILARITY", "FACES"}};
  for (const RankedRender& r : ranked) {
    const farm::RenderParams& p = r.render->params;
    std::string similarity;
    if (r.score == nullptr) {
      similarity = "- (not scored)";
    } else if (r.score->similarity) {
      similarity = Number(*r.score->similarity, "%.4f");
    } else {
      similarity = "- (" + (r.score->reason.empty() ? std::string("no score") : r.score->reason) + ")";
    }
    table.push_back({std::to_string(r.render->id), std::to_string(p.seed), p.sampler,
                     Number(p.cfg, "%g"), std::to_string(p.clip_skip), p.pose.empty() ? "-" : p.pose,
                     p.tone.empty() ? "-" : p.tone, similarity,
                     r.score ? std::to_string(r.score->faces_found) : "-"});
  }
  PrintTable(table);
  return kExitOk;
}

}  // namespace

void AddRankCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<RankArgs>();
  CLI::App* rank = app.add_subcommand(
      "rank",
      "A sweep's renders ranked by face-ID score against an identity, best first; renders "
      "without a usable score last with the reason");
  rank->add_option("SWEEP_ID", args->sweep_id, "Sweep id")->required()->check(CLI::PositiveNumber);
  rank->add_option("--identity", args->identity,
                   "Identity name (default: the only identity the sweep's scores name)");
  rank->add_option("--metric", args->metric, "cosine (descending) or euclidean (ascending)")
      ->check(CLI::IsMember({"cosine", "euclidean"}))
      ->capture_default_str();
  rank->add_option("--limit", args->limit, "Show at most N renders")->check(CLI::NonNegativeNumber);
  rank->add_option("--db", options.db_path,
                   "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  rank->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
