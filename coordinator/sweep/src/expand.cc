#include "farm/sweep/expand.h"

#include <filesystem>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grid_plan.h"
#include "render_builder.h"
#include "train_groups.h"

namespace farm::sweep {
namespace {

template <typename Params>
StatusOr<SweepJob> MakeJob(Params params, std::vector<std::size_t> depends_on, int priority) {
  SweepJob job;
  FARM_ASSIGN_OR_RETURN(job.params_json, ToCanonicalJson(params));
  FARM_ASSIGN_OR_RETURN(job.param_hash, ParamHash(params));
  job.params = std::move(params);
  job.depends_on = std::move(depends_on);
  job.priority = priority;
  return job;
}

// Renders per value of each swept parameter, in the order values first appear.
class ValueCounter {
 public:
  explicit ValueCounter(std::vector<std::string> names) {
    for (std::string& name : names) counts_.push_back({std::move(name), {}});
    positions_.resize(counts_.size());
  }
  void Add(std::size_t param, const std::string& value) {
    auto [it, inserted] = positions_[param].try_emplace(value, counts_[param].counts.size());
    if (inserted) counts_[param].counts.push_back({value, 0});
    ++counts_[param].counts[it->second].renders;
  }
  std::vector<ParameterCounts> Take() { return std::move(counts_); }

 private:
  std::vector<ParameterCounts> counts_;
  std::vector<std::unordered_map<std::string, std::size_t>> positions_;
};

// Hashes of the loras: entries that renders use, resolved on first use so that an entry
// no render needs (unused, excluded, or only at weight 0) is never read.
class LoraFiles {
 public:
  LoraFiles(const SweepSpec& spec, SpecResolver& resolver) : spec_(spec), resolver_(resolver) {}

  StatusOr<std::string> Sha256(const std::string& name) {
    if (auto it = hashes_.find(name); it != hashes_.end()) return it->second;
    auto hash = resolver_.ResolveModel(spec_.loras.at(name));
    if (!hash.ok()) return hash.status().WithContext("loras." + name);
    hashes_.emplace(name, *hash);
    return *hash;
  }

 private:
  const SweepSpec& spec_;
  SpecResolver& resolver_;
  std::unordered_map<std::string, std::string> hashes_;
};

// The point's LoRA weight; 0 when the spec has no LoRA at all.
double LoraWeightAt(const SweepSpec& spec, const GridPlan& plan, const PointValues& values) {
  if (!spec.train && spec.loras.empty()) return 0;
  const GridValue* w = ParamAt(spec, plan, values, "lora_weight");
  return std::holds_alternative<double>(*w) ? std::get<double>(*w)
                                            : static_cast<double>(std::get<std::int64_t>(*w));
}

Status CheckCap(const SweepSpec& spec, const ExpansionCount& grid, const ExpandOptions& options) {
  std::int64_t cap = options.max_jobs.value_or(spec.max_jobs.value_or(kDefaultMaxJobs));
  // A search is capped by what it may grow to: every cell through the last rung.
  const JobTotals count = grid.search ? grid.search->maximum
                                      : JobTotals{grid.prepare, grid.train, grid.render, grid.score};
  if (count.total() <= cap) return Status::Ok();
  return InvalidArgument("sweep '" + spec.name + "' expands to " +
                         std::string(grid.search ? "at most " : "") + std::to_string(count.total()) +
                         " jobs (" + std::to_string(count.prepare) + " prepare, " +
                         std::to_string(count.train) + " train, " +
                         std::to_string(count.render) + " render, " + std::to_string(count.score) +
                         " score), over the cap of " + std::to_string(cap) +
                         " jobs; expected a smaller grid, or raise the cap with max_jobs: in "
                         "the spec or --max-jobs");
}

// The prepare jobs, then the train jobs (see expand.h for the order). out.train_jobs
// gets, per training group, its train jobs' indices: one, or one per step.
Status AddTrainJobs(const SweepSpec& spec, SpecResolver& resolver, std::vector<TrainParams> groups,
                    ExpandedSweep& out) {
  if (groups.empty()) return Status::Ok();
  auto photos = resolver.ResolvePhotos(spec.identity.photos);
  if (!photos.ok()) return photos.status().WithContext("identity.photos");
  std::map<int, std::size_t> prepare_by_resolution;
  for (const TrainParams& group : groups) {
    if (prepare_by_resolution.contains(group.resolution)) continue;
    PrepareParams prepare;
    prepare.identity = spec.identity.name;
    prepare.instance_token = spec.identity.token;
    prepare.photos = *photos;
    prepare.resolution = group.resolution;
    prepare.pick_largest = spec.identity.pick_largest;
    FARM_ASSIGN_OR_RETURN(SweepJob job, MakeJob(std::move(prepare), {}, spec.priority));
    prepare_by_resolution.emplace(group.resolution, out.jobs.size());
    out.jobs.push_back(std::move(job));
  }
  const bool own_runs = StepsNeedOwnRuns(*spec.train);
  for (TrainParams& group : groups) {
    const std::size_t prepare = prepare_by_resolution.at(group.resolution);
    group.prepare_param_hash = out.jobs[prepare].param_hash;
    std::vector<std::vector<int>> runs;
    if (own_runs) {
      for (int step : group.save_steps) runs.push_back({step});
    } else {
      runs.push_back(group.save_steps);
    }
    std::vector<std::size_t>& indices = out.train_jobs.emplace_back();
    for (std::vector<int>& steps : runs) {
      TrainParams train = group;
      train.save_steps = std::move(steps);
      FARM_ASSIGN_OR_RETURN(SweepJob job, MakeJob(std::move(train), {prepare}, spec.priority));
      indices.push_back(out.jobs.size());
      out.jobs.push_back(std::move(job));
    }
  }
  return Status::Ok();
}

// The train job of `group` that saves `step`.
std::size_t TrainJobFor(const ExpandedSweep& out, std::size_t group, const GridValue& step) {
  const std::vector<std::size_t>& indices = out.train_jobs[group];
  for (std::size_t index : indices) {
    const auto& steps = std::get<TrainParams>(out.jobs[index].params).save_steps;
    for (int s : steps) {
      if (SameGridValue(GridValue(std::int64_t{s}), step)) return index;
    }
  }
  return indices.front();  // one run saves every step
}

}  // namespace

const char* JobKindName(JobKind kind) {
  switch (kind) {
    case JobKind::kTrain:
      return "train";
    case JobKind::kRender:
      return "render";
    case JobKind::kScore:
      return "score";
    case JobKind::kPrepare:
      return "prepare";
  }
  return "?";
}

StatusOr<ExpandedSweep> ExpandSweep(const SweepSpec& full_spec, SpecResolver& resolver,
                                    const ExpandOptions& options) {
  FARM_ASSIGN_OR_RETURN(ExpansionCount count, CountJobs(full_spec));
  FARM_RETURN_IF_ERROR(CheckCap(full_spec, count, options));
  // A search submits its first rung: every cell with the first seeds.
  std::optional<SweepSpec> first_rung;
  if (full_spec.search) {
    first_rung = full_spec;
    first_rung->seeds.resize(static_cast<std::size_t>(full_spec.search->seeds_per_rung.front()));
  }
  const SweepSpec& spec = first_rung ? *first_rung : full_spec;

  ResolvedModels models;
  auto checkpoint = resolver.ResolveModel(spec.checkpoint);
  if (!checkpoint.ok()) return checkpoint.status().WithContext("checkpoint");
  models.checkpoint_sha256 = *checkpoint;
  if (spec.vae) {
    auto vae = resolver.ResolveModel(*spec.vae);
    if (!vae.ok()) return vae.status().WithContext("vae");
    models.vae_sha256 = *vae;
  }
  for (const EmbeddingSpec& embedding : spec.embeddings) {
    std::vector<std::pair<std::string, std::string>> found;  // name, sha256
    if (!embedding.folder.empty()) {
      auto files = resolver.ResolveFolder(embedding.folder, ".safetensors");
      if (!files.ok()) return files.status().WithContext("embeddings (" + embedding.folder + ")");
      for (const FolderFile& file : *files) {
        found.emplace_back(std::filesystem::path(file.path).stem().string(), file.sha256);
      }
    } else {
      auto sha256 = resolver.ResolveModel(embedding.file);
      if (!sha256.ok()) return sha256.status().WithContext("embeddings (" + embedding.name + ")");
      found.emplace_back(embedding.name, *sha256);
    }
    for (auto& [name, sha256] : found) {
      if (models.embeddings.contains(name)) {
        return InvalidArgument("embeddings: two embeddings are named '" + name +
                               "' (a folder's file and another entry); expected each name once");
      }
      models.embeddings[name] = sha256;
    }
  }
  auto photos = resolver.ResolvePhotoSet(spec.identity.photos);
  if (!photos.ok()) return photos.status().WithContext("identity.photos");
  GridPlan plan(spec);
  if (spec.pose_control) {
    auto pose = resolver.ResolveModel(spec.pose_control->model);
    if (!pose.ok()) return pose.status().WithContext("render.pose_control");
    models.pose_control_sha256 = *pose;
  }

  ExpandedSweep out;
  out.name = spec.name;
  std::vector<TrainParams> groups;
  if (spec.train && count.train > 0) groups = TrainGroups(spec, *photos, *checkpoint);
  FARM_RETURN_IF_ERROR(AddTrainJobs(spec, resolver, std::move(groups), out));

  std::vector<std::string> names = plan.names();
  names.push_back("seed");
  ValueCounter counter(names);
  const int step_param = plan.IndexOf("lora_step");
  const int lora_param = plan.IndexOf("lora");
  LoraFiles lora_files(spec, resolver);
  std::unordered_map<std::string, std::size_t> seen;
  std::vector<std::size_t> renders;
  Status status;
  auto add_point = [&](std::size_t group, const PointValues& values) {
    if (!status.ok() || plan.Excluded(values)) return;
    auto base = BuildRender(spec, plan, values, models);
    if (!base.ok()) {
      status = base.status();
      return;
    }
    std::vector<std::size_t> depends_on;
    const double weight = LoraWeightAt(spec, plan, values);
    // A LoRA at weight 0 changes no pixel: leave it out so the render is shared.
    if (weight != 0 && spec.train) {
      const GridValue& step_value = *values[step_param];
      std::string step = GridValueText(step_value);
      const std::size_t train = TrainJobFor(out, group, step_value);
      base->loras.push_back({"train:" + out.jobs[train].param_hash + "@" + step, weight});
      depends_on.push_back(train);
    } else if (weight != 0) {
      auto sha256 = lora_files.Sha256(std::get<std::string>(*ParamAt(spec, plan, values, "lora")));
      if (!sha256.ok()) {
        status = sha256.status();
        return;
      }
      base->loras.push_back({"sha256:" + *sha256, weight});
    }
    for (std::uint64_t seed : spec.seeds) {
      RenderParams render = *base;
      render.seed = seed;
      auto job = MakeJob(std::move(render), depends_on, spec.priority);
      if (!job.ok()) {
        status = job.status();
        return;
      }
      if (!seen.try_emplace(job->param_hash, out.jobs.size()).second) continue;
      for (std::size_t p = 0; p < plan.names().size(); ++p) {
        bool lora_choice = static_cast<int>(p) == step_param || static_cast<int>(p) == lora_param;
        counter.Add(p, lora_choice && weight == 0 ? "none" : GridValueText(*values[p]));
      }
      counter.Add(plan.names().size(), std::to_string(seed));
      renders.push_back(out.jobs.size());
      out.jobs.push_back(std::move(*job));
    }
  };
  std::vector<bool> all(plan.factors().size(), true);
  std::size_t group_count = spec.train ? TrainGroupCount(*spec.train) : 1;
  for (std::size_t g = 0; g < group_count; ++g) {
    plan.Visit(all, [&](const std::vector<std::size_t>&, const PointValues& values) {
      add_point(g, values);
    });
  }
  FARM_RETURN_IF_ERROR(status);

  if (spec.score) {
    for (std::size_t r : renders) {
      ScoreParams score{out.jobs[r].param_hash, spec.identity.name, *photos, spec.score->metric};
      FARM_ASSIGN_OR_RETURN(SweepJob job, MakeJob(std::move(score), {r}, spec.priority));
      if (seen.try_emplace(job.param_hash, out.jobs.size()).second) {
        out.jobs.push_back(std::move(job));
      }
    }
  }
  out.count.parameters = std::move(count.parameters);
  out.count.notes = std::move(count.notes);
  out.count.search = std::move(count.search);
  for (const SweepJob& job : out.jobs) {
    std::int64_t& n = job.kind() == JobKind::kTrain     ? out.count.train
                      : job.kind() == JobKind::kRender  ? out.count.render
                      : job.kind() == JobKind::kPrepare ? out.count.prepare
                                                        : out.count.score;
    ++n;
  }
  out.value_counts = counter.Take();
  return out;
}

}  // namespace farm::sweep
