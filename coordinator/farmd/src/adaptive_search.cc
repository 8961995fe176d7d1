#include "adaptive_search.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "conversions.h"
#include "farm/schemas/render_params.h"
#include "farm/store/render_sql.h"
#include "farm/sweep/halving.h"
#include "gang_size.h"
#include "required_models.h"

namespace farm::farmd {
namespace {

using nlohmann::json;

// One render of the sweep as the search sees it.
struct RenderRow {
  std::string params_json;
  std::optional<double> score;
  std::int64_t job_id = 0;
};

// The sweep's cells: renders grouped by their record without the seed.
struct Cells {
  std::vector<sweep::CellScores> scores;
  std::vector<std::size_t> template_render;  // per cell, its first render (index into rows)
  std::vector<RenderRow> rows;
};

std::optional<double> AsDouble(const store::SqlValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  return std::nullopt;
}

std::int64_t AsInt(const store::SqlValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  return 0;
}

// The cell a render belongs to: its canonical record without "seed" (keys stay sorted).
StatusOr<std::pair<std::string, std::uint64_t>> CellOf(const std::string& params_json) {
  json record = json::parse(params_json, nullptr, false);
  if (!record.is_object() || !record.contains("seed") || !record["seed"].is_number_unsigned()) {
    return FailedPrecondition("render record without a seed: " + params_json.substr(0, 200));
  }
  const std::uint64_t seed = record["seed"].get<std::uint64_t>();
  record.erase("seed");
  return std::make_pair(record.dump(), seed);
}

StatusOr<Cells> ReadCells(store::Store& store, std::int64_t sweep_id, const std::string& metric) {
  // The sweep's own view of each render: its score jobs wrote these scores.
  const std::string column = metric == "euclidean" ? "rr.euclidean" : "rr.score";
  FARM_ASSIGN_OR_RETURN(
      store::SelectResult result,
      store.Select(std::string("SELECT ") + store::kRenderRecordSql + ", " + column +
                       ", rr.job_id FROM render_results rr JOIN renders r ON r.id = rr.render_id "
                       "WHERE rr.sweep_id = ?1 ORDER BY rr.render_id",
                   {store::SqlValue(sweep_id)}));
  Cells cells;
  cells.rows.reserve(result.rows.size());
  for (const auto& row : result.rows) {
    RenderRow render;
    if (const auto* text = std::get_if<std::string>(&row[0])) render.params_json = *text;
    render.score = AsDouble(row[1]);
    render.job_id = AsInt(row[2]);
    cells.rows.push_back(std::move(render));
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < cells.rows.size(); ++r) {
    FARM_ASSIGN_OR_RETURN(auto cell, CellOf(cells.rows[r].params_json));
    auto [it, inserted] = index.try_emplace(cell.first, cells.scores.size());
    if (inserted) {
      cells.scores.push_back({cell.first, {}});
      cells.template_render.push_back(r);
    }
    cells.scores[it->second].scores[cell.second] = cells.rows[r].score;
  }
  return cells;
}

struct SearchState {
  store::Sweep sweep;
  sweep::SearchPlan plan;
  Cells cells;
  sweep::RungDecision decision;
};

StatusOr<SearchState> ReadState(store::Store& store, std::int64_t sweep_id) {
  SearchState state;
  FARM_ASSIGN_OR_RETURN(state.sweep, store.GetSweep(sweep_id));
  FARM_ASSIGN_OR_RETURN(state.plan,
                        sweep::ReadSearchPlan(state.sweep.spec_yaml, "sweep " + std::to_string(sweep_id)));
  FARM_ASSIGN_OR_RETURN(state.cells, ReadCells(store, sweep_id, state.plan.search.metric));
  auto decision = sweep::DecideRung(state.plan, state.cells.scores);
  if (!decision.ok()) return decision.status().WithContext("search of sweep " + std::to_string(sweep_id));
  state.decision = std::move(*decision);
  return state;
}

StatusOr<SearchProgress> ProgressOf(store::Store& store, const SearchState& state) {
  SearchProgress progress;
  progress.rung = state.decision.rung;
  progress.rungs = static_cast<int>(state.plan.search.seeds_per_rung.size());
  const auto& rungs = state.plan.search.seeds_per_rung;
  for (int r = 0; r <= progress.rung; ++r) {
    std::int64_t n = 0;
    for (const sweep::CellScores& cell : state.cells.scores) {
      if (static_cast<std::int64_t>(cell.scores.size()) >= rungs[r]) ++n;
    }
    progress.cells_per_rung.push_back(n);
  }
  progress.renders = static_cast<std::int64_t>(state.cells.rows.size());
  progress.renders_full = static_cast<std::int64_t>(state.cells.scores.size()) * rungs.back();
  FARM_ASSIGN_OR_RETURN(auto by_state, store.CountJobsByState(state.sweep.id));
  for (const auto& [job_state, count] : by_state) progress.jobs += count;
  // The full grid adds the missing renders and, with them, their score jobs.
  progress.jobs_full = progress.jobs + 2 * (progress.renders_full - progress.renders);
  return progress;
}

// The next rung's jobs: per survivor, a render per new seed (the cell's record with that
// seed) and its score job (the sweep's score job record, pointed at the new render).
StatusOr<std::vector<store::NewJob>> NextRungJobs(const SearchState& state,
                                                  const ScoreParams& score_template) {
  std::vector<store::NewJob> jobs;
  for (std::size_t cell : state.decision.survivors) {
    FARM_ASSIGN_OR_RETURN(RenderParams base,
                          RenderParamsFromJson(state.cells.rows[state.cells.template_render[cell]].params_json));
    for (std::uint64_t seed : state.decision.new_seeds) {
      RenderParams render = base;
      render.seed = seed;
      store::NewJob render_job;
      render_job.kind = store::JobKind::kRender;
      render_job.priority = state.sweep.priority;
      FARM_ASSIGN_OR_RETURN(render_job.params_json, ToCanonicalJson(render));
      FARM_ASSIGN_OR_RETURN(render_job.param_hash, ParamHash(render));
      render_job.render = std::move(render);
      ScoreParams score = score_template;
      score.render_param_hash = render_job.param_hash;
      store::NewJob score_job;
      score_job.kind = store::JobKind::kScore;
      score_job.priority = state.sweep.priority;
      FARM_ASSIGN_OR_RETURN(score_job.params_json, ToCanonicalJson(score));
      FARM_ASSIGN_OR_RETURN(score_job.param_hash, ParamHash(score));
      score_job.deps = {jobs.size()};
      jobs.push_back(std::move(render_job));
      jobs.push_back(std::move(score_job));
    }
  }
  return jobs;
}

StatusOr<ScoreParams> ScoreTemplate(store::Store& store, std::int64_t sweep_id) {
  store::JobFilter filter;
  filter.sweep_id = sweep_id;
  filter.kind = store::JobKind::kScore;
  filter.limit = 1;
  FARM_ASSIGN_OR_RETURN(std::vector<store::Job> jobs, store.ListJobs(filter));
  if (jobs.empty()) {
    return FailedPrecondition("search of sweep " + std::to_string(sweep_id) +
                              " has no score job to rank by");
  }
  json doc = json::parse(jobs[0].params_json, nullptr, false);
  ScoreParams score;
  auto text = [&](const char* key, std::string* out) {
    if (doc.is_object() && doc.contains(key) && doc[key].is_string()) {
      *out = doc[key].get<std::string>();
      return true;
    }
    return false;
  };
  if (!text("identity", &score.identity) || !text("photos", &score.photos_sha256) ||
      !text("metric", &score.metric)) {
    return FailedPrecondition("score job " + std::to_string(jobs[0].id) +
                    " has no identity, photos and metric: " + jobs[0].params_json);
  }
  return score;
}

// Hands the stored jobs to the scheduler: the rows the insert created (shared renders are
// another sweep's, already known to it), their parents where the scheduler knows them.
Status SubmitInserted(store::Store& store, scheduler::Scheduler& scheduler,
                      std::int64_t sweep_id, const std::vector<store::NewJob>& jobs,
                      const store::InsertedJobs& inserted, int* created) {
  std::vector<scheduler::JobSpec> specs;
  std::set<scheduler::JobId> submitted;
  for (std::size_t i = 0; i < inserted.job_ids.size() && i < jobs.size(); ++i) {
    const std::int64_t id = inserted.job_ids[i];
    if (id <= 0 || submitted.count(id) || scheduler.GetJob(id).ok()) continue;
    FARM_ASSIGN_OR_RETURN(store::Job row, store.GetJob(id));
    if (row.sweep_id != sweep_id) continue;
    scheduler::JobSpec spec;
    spec.id = id;
    spec.sweep_id = sweep_id;
    spec.kind = ToScheduler(row.kind);
    spec.priority = row.priority;
    spec.param_hash = row.param_hash;
    spec.required_models = RequiredModels(row);
    spec.gang_size = GangSizeOf(row);
    for (std::size_t dep : jobs[i].deps) {
      const std::int64_t parent = dep < inserted.job_ids.size() ? inserted.job_ids[dep] : 0;
      if (parent <= 0 || parent == id) continue;
      if (!submitted.count(parent) && !scheduler.GetJob(parent).ok()) continue;  // finished
      spec.deps.push_back(parent);
    }
    submitted.insert(id);
    specs.push_back(std::move(spec));
  }
  *created = static_cast<int>(specs.size());
  return scheduler.SubmitJobs(std::move(specs));
}

std::string Percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

}  // namespace

bool IsSearchSpec(const std::string& spec_yaml) {
  if (spec_yaml.find("search") == std::string::npos) return false;
  return sweep::ReadSearchPlan(spec_yaml, "spec").status().code() != StatusCode::kNotFound;
}

double SearchProgress::saved_percent() const {
  if (jobs_full <= 0) return 0;
  return 100.0 * static_cast<double>(jobs_full - jobs) / static_cast<double>(jobs_full);
}

std::string SearchProgress::Summary() const {
  std::string cells;
  for (std::int64_t n : cells_per_rung) cells += (cells.empty() ? "" : " -> ") + std::to_string(n);
  return "rung " + std::to_string(rung + 1) + "/" + std::to_string(rungs) + ", cells " + cells +
         ", " + std::to_string(renders) + " of " + std::to_string(renders_full) + " renders, " +
         std::to_string(jobs) + " of " + std::to_string(jobs_full) + " jobs (" +
         Percent(saved_percent()) + "% fewer than the full grid)";
}

StatusOr<SearchProgress> ReadSearchProgress(store::Store& store, std::int64_t sweep_id) {
  // Polled by watch: renders per cell counted in SQLite (no record parsed here).
  FARM_ASSIGN_OR_RETURN(store::Sweep sweep, store.GetSweep(sweep_id));
  FARM_ASSIGN_OR_RETURN(sweep::SearchPlan plan,
                        sweep::ReadSearchPlan(sweep.spec_yaml, "sweep " + std::to_string(sweep_id)));
  FARM_ASSIGN_OR_RETURN(
      store::SelectResult result,
      store.Select("SELECT count(*) FROM render_results rr JOIN renders r ON r.id = rr.render_id "
                   "WHERE rr.sweep_id = ?1 GROUP BY json_remove(r.params_json, '$.seed')",
                   {store::SqlValue(sweep_id)}));
  const auto& rungs = plan.search.seeds_per_rung;
  SearchProgress progress;
  progress.rungs = static_cast<int>(rungs.size());
  std::int64_t most = 0;
  for (const auto& row : result.rows) {
    const std::int64_t n = AsInt(row[0]);
    progress.renders += n;
    most = std::max(most, n);
  }
  for (std::size_t r = 0; r < rungs.size() && rungs[r] <= most; ++r) {
    progress.rung = static_cast<int>(r);
    std::int64_t cells = 0;
    for (const auto& row : result.rows) cells += AsInt(row[0]) >= rungs[r] ? 1 : 0;
    progress.cells_per_rung.push_back(cells);
  }
  progress.renders_full = static_cast<std::int64_t>(result.rows.size()) * rungs.back();
  FARM_ASSIGN_OR_RETURN(auto by_state, store.CountJobsByState(sweep_id));
  for (const auto& [job_state, count] : by_state) progress.jobs += count;
  progress.jobs_full = progress.jobs + 2 * (progress.renders_full - progress.renders);
  return progress;
}

StatusOr<SearchStep> AdvanceSearch(store::Store& store, scheduler::Scheduler& scheduler,
                                   std::int64_t sweep_id) {
  FARM_ASSIGN_OR_RETURN(SearchState state, ReadState(store, sweep_id));
  SearchStep step;
  const sweep::RungDecision& decision = state.decision;
  if (decision.last) {
    FARM_ASSIGN_OR_RETURN(step.progress, ProgressOf(store, state));
    const auto& best = decision.ranking.front();
    spdlog::info("sweep={} search done: {}; best cell (mean {} over {} renders): {}", sweep_id,
                 step.progress.Summary(), best.mean,
                 state.plan.search.seeds_per_rung.back(), state.cells.scores[best.cell].key);
    return step;
  }
  FARM_ASSIGN_OR_RETURN(ScoreParams score_template, ScoreTemplate(store, sweep_id));
  FARM_ASSIGN_OR_RETURN(std::vector<store::NewJob> jobs, NextRungJobs(state, score_template));
  FARM_ASSIGN_OR_RETURN(store::InsertedJobs inserted, store.InsertJobs(sweep_id, jobs));
  FARM_RETURN_IF_ERROR(
      SubmitInserted(store, scheduler, sweep_id, jobs, inserted, &step.jobs_created));
  step.added = true;
  FARM_ASSIGN_OR_RETURN(SearchState after, ReadState(store, sweep_id));
  FARM_ASSIGN_OR_RETURN(step.progress, ProgressOf(store, after));
  spdlog::info("sweep={} search rung {} ranked {} cells, kept {}: rung {} adds {} seeds each, "
               "{} new jobs; {}",
               sweep_id, decision.rung + 1, decision.in_rung.size(), decision.survivors.size(),
               decision.rung + 2, decision.new_seeds.size(), step.jobs_created,
               step.progress.Summary());
  return step;
}

}  // namespace farm::farmd
