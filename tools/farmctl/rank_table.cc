#include "rank_table.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "cli_common.h"
#include "farm/schemas/samplers.h"
#include "farm/store/store.h"

namespace farmctl {
namespace {

using Json = nlohmann::ordered_json;

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

// The identity to rank against: the requested one, or the only one scores name.
farm::Status PickIdentity(farm::store::Store& store, const RankRequest& request,
                          const std::vector<farm::store::Score>& scores, std::int64_t* id,
                          std::string* name) {
  if (!request.identity.empty()) {
    FARM_ASSIGN_OR_RETURN(farm::store::Identity identity, store.GetIdentityByName(request.identity));
    *id = identity.id;
    *name = identity.name;
    return farm::Status::Ok();
  }
  std::set<std::int64_t> ids;
  for (const farm::store::Score& s : scores) ids.insert(s.identity_id);
  if (ids.size() > 1) {
    std::string names;
    for (std::int64_t each : ids) {
      auto identity = store.GetIdentity(each);
      names += (names.empty() ? "" : ", ") + (identity.ok() ? identity->name : std::to_string(each));
    }
    return farm::InvalidArgument("sweep " + std::to_string(request.sweep_id) +
                                 " has scores for several identities (" + names +
                                 "): pass --identity NAME");
  }
  if (ids.size() == 1) {
    FARM_ASSIGN_OR_RETURN(farm::store::Identity identity, store.GetIdentity(*ids.begin()));
    *id = identity.id;
    *name = identity.name;
  }
  return farm::Status::Ok();
}

Json LorasJson(const farm::RenderParams& p) {
  Json out = Json::array();
  for (const farm::LoraRef& lora : p.loras) out.push_back({{"ref", lora.ref}, {"weight", lora.weight}});
  return out;
}

// "0.8" for one LoRA at 0.8, "0.8+0.5" for two, "-" for none.
std::string LoraWeights(const farm::RenderParams& p) {
  if (p.loras.empty()) return "-";
  std::string out;
  for (const farm::LoraRef& lora : p.loras) out += (out.empty() ? "" : "+") + Number(lora.weight, "%g");
  return out;
}

}  // namespace

farm::StatusOr<Ranking> LoadRanking(farm::store::Store& store, const RankRequest& request) {
  Ranking out;
  FARM_ASSIGN_OR_RETURN(farm::store::Sweep sweep, store.GetSweep(request.sweep_id));
  out.sweep_id = request.sweep_id;
  out.sweep_name = sweep.name;
  out.metric = request.metric;
  out.descending = request.metric == "cosine";
  farm::store::RenderFilter filter;
  filter.sweep_id = request.sweep_id;
  FARM_ASSIGN_OR_RETURN(out.renders, store.ListRenders(filter));
  FARM_ASSIGN_OR_RETURN(out.scores, store.ListScoresForSweep(request.sweep_id));
  std::int64_t identity_id = 0;
  FARM_RETURN_IF_ERROR(PickIdentity(store, request, out.scores, &identity_id, &out.identity));

  // The newest score row (highest id) of each render for this identity and metric.
  std::map<std::int64_t, const farm::store::Score*> best;
  for (const farm::store::Score& s : out.scores) {
    if (s.identity_id != identity_id || s.metric != request.metric) continue;
    const farm::store::Score*& slot = best[s.render_id];
    if (slot == nullptr || s.id > slot->id) slot = &s;
  }
  for (std::size_t i = 0; i < out.renders.size(); ++i) {
    auto found = best.find(out.renders[i].id);
    out.ranked.push_back({i, found == best.end() ? nullptr : found->second});
  }
  const bool descending = out.descending;
  const auto& renders = out.renders;
  std::stable_sort(out.ranked.begin(), out.ranked.end(),
                   [&](const RankedRender& a, const RankedRender& b) {
                     const int ga = Group(a), gb = Group(b);
                     if (ga != gb) return ga < gb;
                     if (ga == 0 && *a.score->similarity != *b.score->similarity) {
                       return descending ? *a.score->similarity > *b.score->similarity
                                         : *a.score->similarity < *b.score->similarity;
                     }
                     return renders[a.render].id < renders[b.render].id;
                   });
  out.render_count = out.ranked.size();
  if (request.limit > 0 && out.ranked.size() > static_cast<std::size_t>(request.limit)) {
    out.ranked.resize(request.limit);
  }
  return out;
}

Json RankingRowsJson(const Ranking& ranking) {
  Json rows = Json::array();
  int rank = 0;
  for (const RankedRender& r : ranking.ranked) {
    const farm::store::Render& render = ranking.renders[r.render];
    const farm::RenderParams& p = render.params;
    rows.push_back({{"rank", ++rank},
                    {"render_id", render.id},
                    {"param_hash", render.param_hash},
                    {"seed", p.seed},
                    {"sampler", p.sampler},
                    {"cfg", p.cfg},
                    {"clip_skip", p.clip_skip},
                    {"pose", p.pose},
                    {"tone", p.tone},
                    {"loras", LorasJson(p)},
                    {"scored", r.score != nullptr},
                    {"similarity", r.score && r.score->similarity ? Json(*r.score->similarity) : Json(nullptr)},
                    {"faces", r.score ? Json(r.score->faces_found) : Json(nullptr)},
                    {"reason", r.score ? r.score->reason : std::string("not scored")},
                    {"model_version", r.score ? r.score->model_version : std::string()}});
  }
  return rows;
}

void PrintRanking(std::ostream& out, const Ranking& ranking) {
  out << "sweep " << ranking.sweep_id << " (" << ranking.sweep_name << "): " << ranking.render_count
      << " renders, ranked by " << ranking.metric
      << (ranking.descending ? " (higher is better)" : " (lower is better)")
      << (ranking.identity.empty() ? std::string(", no scores yet")
                                   : " against '" + ranking.identity + "'");
  if (ranking.ranked.size() < ranking.render_count) out << "; the best " << ranking.ranked.size();
  out << "\n";
  std::vector<std::vector<std::string>> table = {
      {"RENDER", "SEED", "SAMPLER", "CFG", "CLIP SKIP", "POSE", "TONE", "LORA", "SIMILARITY", "FACES"}};
  for (const RankedRender& r : ranking.ranked) {
    const farm::store::Render& render = ranking.renders[r.render];
    const farm::RenderParams& p = render.params;
    std::string similarity;
    if (r.score == nullptr) {
      similarity = "- (not scored)";
    } else if (r.score->similarity) {
      similarity = Number(*r.score->similarity, "%.4f");
    } else {
      similarity = "- (" + (r.score->reason.empty() ? std::string("no score") : r.score->reason) + ")";
    }
    table.push_back({std::to_string(render.id), std::to_string(p.seed),
                     farm::FrontEndSamplerName({p.sampler, p.scheduler}), Number(p.cfg, "%g"),
                     std::to_string(p.clip_skip), p.pose.empty() ? "-" : p.pose,
                     p.tone.empty() ? "-" : p.tone, LoraWeights(p), similarity,
                     r.score ? std::to_string(r.score->faces_found) : "-"});
  }
  PrintTable(table, out);
}

}  // namespace farmctl
