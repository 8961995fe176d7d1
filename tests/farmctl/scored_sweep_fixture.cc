#include "scored_sweep_fixture.h"

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace farmctl_test {

farm::RenderParams BaseRender() {
  farm::RenderParams p;
  p.prompt = "studio portrait of sks person";
  p.negative_prompt = "blurry";
  p.seed = 42;
  p.sampler = "Euler";
  p.scheduler = "normal";
  p.steps = 25;
  p.cfg = 7.0;
  p.clip_skip = 2;
  p.pose = "front";
  p.tone = "warm";
  p.checkpoint_sha256 = farm::Sha256Hex("checkpoint");
  p.loras.push_back({"sha256:" + farm::Sha256Hex("lora"), 0.8});
  return p;
}

namespace {

farm::StatusOr<std::int64_t> IdentityId(farm::store::Store& store) {
  auto existing = store.GetIdentityByName("ana");
  if (existing.ok()) return existing->id;
  farm::store::NewIdentity ana;
  ana.name = "ana";
  ana.instance_token = "sks person";
  return store.CreateIdentity(ana);
}

}  // namespace

farm::StatusOr<std::int64_t> AddScoredSweep(farm::store::Store& store, const std::string& name,
                                            const std::vector<ScoredRender>& renders) {
  FARM_ASSIGN_OR_RETURN(const std::int64_t identity, IdentityId(store));
  farm::store::NewSweep sweep;
  sweep.name = name;
  sweep.spec_yaml = "name: " + name + "\n";
  sweep.jobs.reserve(renders.size() + 1);
  for (const ScoredRender& render : renders) {
    farm::store::NewJob job;
    job.kind = farm::store::JobKind::kRender;
    job.render = render.params;
    sweep.jobs.push_back(std::move(job));
  }
  farm::store::NewJob score_job;
  score_job.kind = farm::store::JobKind::kScore;
  score_job.params_json = "{\"score\":\"" + name + "\"}";
  score_job.param_hash = farm::Sha256Hex(score_job.params_json);
  sweep.jobs.push_back(std::move(score_job));
  FARM_ASSIGN_OR_RETURN(const farm::store::CreatedSweep created, store.CreateSweep(sweep));

  std::vector<farm::store::NewScore> scores;
  scores.reserve(renders.size());
  for (std::size_t i = 0; i < renders.size(); ++i) {
    farm::store::NewScore score;
    score.render_id = created.jobs.render_ids[i];
    score.identity_id = identity;
    score.job_id = created.jobs.job_ids.back();
    score.metric = "cosine";
    score.model_version = "face-model-1";
    score.similarity = renders[i].score;
    score.faces_found = renders[i].score ? 1 : 0;
    if (!renders[i].score) score.reason = "no face found";
    scores.push_back(std::move(score));
  }
  auto inserted = store.InsertScores(scores);
  if (!inserted.ok()) return inserted.status();
  return created.sweep_id;
}

}  // namespace farmctl_test
