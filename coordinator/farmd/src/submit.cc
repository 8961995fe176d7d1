// The submit path: spec -> expansion -> one CreateSweep transaction -> SubmitJobs with
// the ids the database gave the jobs.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>

#include "conversions.h"
#include "coordinator_impl.h"
#include "farm/schemas/sha256.h"
#include "farm/sweep/expand.h"
#include "farm/sweep/halving.h"
#include "farm/sweep/parser.h"
#include "gang_size.h"
#include "required_models.h"

namespace farm::farmd {
namespace {

store::NewJob ToNewJob(const sweep::SweepJob& job, const SubmitOptions& options) {
  store::NewJob out;
  out.priority = job.priority;
  out.deps = job.depends_on;
  if (options.synthetic) {
    // Recorded as kind 'synthetic' with what it stands in for, so nobody mistakes its
    // output for a render.
    nlohmann::json params = {
        {"bytes", options.synthetic_bytes},
        {"cpu_ms", options.synthetic_cpu_ms},
        {"stand_in_for",
         {{"kind", sweep::JobKindName(job.kind())}, {"param_hash", job.param_hash}}}};
    out.kind = store::JobKind::kSynthetic;
    out.params_json = params.dump();  // object keys are sorted: canonical
    out.param_hash = Sha256Hex(out.params_json);
    return out;
  }
  out.params_json = job.params_json;
  out.param_hash = job.param_hash;
  switch (job.kind()) {
    case sweep::JobKind::kPrepare:
      out.kind = store::JobKind::kPrepare;
      break;
    case sweep::JobKind::kTrain:
      out.kind = store::JobKind::kTrain;
      break;
    case sweep::JobKind::kScore:
      out.kind = store::JobKind::kScore;
      break;
    case sweep::JobKind::kRender:
      out.kind = store::JobKind::kRender;
      out.render = std::get<RenderParams>(job.params);
      out.rerender = options.rerender;
      break;
  }
  return out;
}

}  // namespace

StatusOr<SubmitResult> CoordinatorImpl::SubmitSweep(std::string_view yaml,
                                                    std::string_view file_name,
                                                    const sweep::SpecPresets& presets,
                                                    sweep::SpecResolver& resolver,
                                                    const SubmitOptions& options) {
  if (options.synthetic && (options.synthetic_cpu_ms < 0 || options.synthetic_bytes < 0)) {
    return InvalidArgument("synthetic cpu_ms and bytes must be >= 0");
  }
  FARM_ASSIGN_OR_RETURN(sweep::SweepSpec spec, sweep::ParseSweepSpec(yaml, file_name, presets));
  if (spec.search && options.synthetic) {
    return InvalidArgument(std::string(file_name) +
                           ": search: ranks cells by their renders' scores, which synthetic "
                           "stand-ins do not have; expected a real run (no --synthetic)");
  }
  sweep::ExpandOptions expand_options;
  expand_options.max_jobs = options.max_jobs;
  FARM_ASSIGN_OR_RETURN(sweep::ExpandedSweep expanded,
                        sweep::ExpandSweep(spec, resolver, expand_options));

  store::NewSweep new_sweep;
  new_sweep.name = expanded.name.empty() ? std::string(file_name) : expanded.name;
  new_sweep.spec_yaml = std::string(yaml);
  new_sweep.priority = spec.priority;
  new_sweep.jobs.reserve(expanded.jobs.size());
  for (const sweep::SweepJob& job : expanded.jobs) new_sweep.jobs.push_back(ToNewJob(job, options));
  FARM_ASSIGN_OR_RETURN(store::CreatedSweep created, store_.CreateSweep(new_sweep));

  // The sweep's own jobs are new; the others are shared renders of earlier sweeps.
  FARM_ASSIGN_OR_RETURN(std::vector<store::Job> own,
                        store_.ListJobs(JobsWhere(created.sweep_id, std::nullopt)));
  std::map<scheduler::JobId, const store::Job*> own_by_id;
  for (const store::Job& job : own) own_by_id[job.id] = &job;

  std::vector<scheduler::JobSpec> specs;
  std::set<scheduler::JobId> submitted;
  const auto& ids = created.jobs.job_ids;
  for (std::size_t i = 0; i < ids.size() && i < expanded.jobs.size(); ++i) {
    auto row = own_by_id.find(ids[i]);
    if (row == own_by_id.end() || !submitted.insert(ids[i]).second) continue;
    scheduler::JobSpec job;
    job.id = ids[i];
    // A stand-in's offer is a few bytes: kept now, so its dispatch reads no row.
    if (row->second->kind == store::JobKind::kSynthetic) {
      offer_params_[job.id] = OfferParams(*row->second);
    }
    job.sweep_id = created.sweep_id;
    job.kind = ToScheduler(row->second->kind);
    job.priority = row->second->priority;
    job.param_hash = row->second->param_hash;
    job.required_models = RequiredModels(*row->second);
    job.gang_size = GangSizeOf(*row->second);
    // A re-evaluation renders even what the farm rendered before.
    job.force = options.rerender && job.kind == scheduler::JobKind::kRender;
    for (std::size_t dep : expanded.jobs[i].depends_on) {
      const scheduler::JobId parent = dep < ids.size() ? ids[dep] : 0;
      if (parent <= 0 || parent == job.id) continue;
      // A shared parent unknown to the scheduler already finished (the store only shares
      // results that are pending or done, and pending ones are in the scheduler).
      if (!submitted.count(parent) && !scheduler_->GetJob(parent).ok()) continue;
      job.deps.push_back(parent);
    }
    specs.push_back(std::move(job));
  }
  const int created_jobs = static_cast<int>(specs.size());
  if (Status status = scheduler_->SubmitJobs(std::move(specs)); !status.ok()) {
    // The rows exist but the scheduler refused them: do not leave them queued forever.
    for (const store::Job& job : own) (void)store_.SetJobState(job.id, store::JobState::kFailed);
    (void)store_.SetSweepState(created.sweep_id, store::SweepState::kFailed);
    return status.WithContext("submit sweep " + std::to_string(created.sweep_id));
  }
  spdlog::info("sweep={} '{}': {} jobs, {} new{}", created.sweep_id, new_sweep.name,
               expanded.jobs.size(), created_jobs, options.synthetic ? " (synthetic)" : "");
  if (spec.search && expanded.count.search) {
    spdlog::info("sweep={} search: {}; {} cells; first rung {} jobs, expected {}, at most {}",
                 created.sweep_id, sweep::DescribeSearch(*spec.search),
                 expanded.count.search->cells, expanded.count.total(),
                 expanded.count.search->expected.total(), expanded.count.search->maximum.total());
  }
  SubmitResult result;
  result.sweep_id = created.sweep_id;
  result.name = new_sweep.name;
  result.jobs_total = static_cast<int>(expanded.jobs.size());
  result.jobs_created = created_jobs;
  result.renders_shared = created.jobs.renders_shared;
  if (spec.search) {
    // Its rungs are added by the completion check (adaptive_search.h), also when every
    // first-rung render was already done.
    sweeps_to_check_.insert(created.sweep_id);
  } else if (created_jobs == 0) {
    (void)store_.SetSweepState(created.sweep_id, store::SweepState::kSucceeded);
  }
  return result;
}

}  // namespace farm::farmd
