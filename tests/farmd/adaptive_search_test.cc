// A sweep with search: (successive halving) run by farmd against a fake agent whose
// faces make a score that is a fixed function of (cfg, seed): which cells survive each
// rung, the jobs it took, the same outcome twice, and the due rung added after a kill.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "farm/farmd/api.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

const std::string kPhoto(64, 'a');


// 6 cells (cfg 4..9) x 4 seeds; rungs of 1, 2 and 4 seeds keeping half: 6 -> 3 -> 2 cells.
const char kSearchSpec[] =
    "name: halving\n"
    "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
    "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
    "render:\n"
    "  prompt: 'portrait of {token}'\n"
    "  sampler: Euler\n"
    "  seeds: [1, 2, 3, 4]\n"
    "grid:\n"
    "  cfg: [4, 5, 6, 7, 8, 9]\n"
    "search: {method: halving, seeds_per_rung: [1, 2, 4], keep: 0.5, metric: cosine}\n";

using Cell = std::pair<int, std::uint64_t>;  // (cfg, seed)

// The synthetic face-ID score of a render; nullopt: no face in it.
//   rung 1 (seed 1): 4 > 5 > 6 = 9 > 8 > 7 (no face): 4, 5, 6 go on (6 before 9 by key);
//   rung 2 (seeds 1-2): means 4: 0.5, 5: 0.75, 6: 0.65: 5 and 6 go on (4 was best alone);
//   rung 3 (seeds 1-4): 5: 0.625, 6: 0.775.
std::optional<double> ScoreOf(int cfg, std::uint64_t seed) {
  static const std::map<Cell, double> kScores = {
      {{4, 1}, 0.9}, {{5, 1}, 0.8}, {{6, 1}, 0.7}, {{8, 1}, 0.3}, {{9, 1}, 0.7},
      {{4, 2}, 0.1}, {{5, 2}, 0.7}, {{6, 2}, 0.6},
      {{5, 3}, 0.5}, {{5, 4}, 0.5}, {{6, 3}, 0.9}, {{6, 4}, 0.9}};
  if (cfg == 7) return std::nullopt;
  auto it = kScores.find({cfg, seed});
  return it == kScores.end() ? 0.2 : it->second;
}

const std::set<Cell> kExpectedRenders = {
    {4, 1}, {5, 1}, {6, 1}, {7, 1}, {8, 1}, {9, 1},  // rung 1: every cell, seed 1
    {4, 2}, {5, 2}, {6, 2},                          // rung 2: the best 3 add seed 2
    {5, 3}, {5, 4}, {6, 3}, {6, 4}};                 // rung 3: the best 2 add seeds 3-4

class SearchFarm {
 public:
  SearchFarm() : farm_(dir_.path(), PatientOptions()) {
    farm_.Open();
    EXPECT_TRUE(farm_.store().CreateIdentity(UnitIdentity(kPhoto)).ok());
  }

  SubmitResult Submit(const std::string& yaml) {
    UnitPhotoResolver resolver(kPhoto);
    auto submitted = farm_.coordinator().SubmitSweep(yaml, "halving.yaml", {}, resolver, {});
    EXPECT_TRUE(submitted.ok()) << submitted.status().ToString();
    return submitted.ok() ? *submitted : SubmitResult{};
  }

  void Join(int slots = 1) { agent_ = farm_.Join("agent-1", slots); }

  // Renders what farmd offers (holding back renders whose prompt starts with `hold`)
  // until `limit` renders were reported or nothing more comes, moving the clock on when
  // the queue is quiet so that the completion check runs.
  void Serve(int limit = 1000, const std::string& hold = "\x01") {
    int reported = 0;
    int quiet = 0;
    while (reported < limit) {
      auto offer = farm_.Await(*agent_, v1::Envelope::kJobOffer, 30);
      if (!offer) {
        if (++quiet > 2) break;
        farm_.Pump(2, 1500);
        continue;
      }
      quiet = 0;
      auto params = RenderParamsFromJson(offer->job_offer().params_json());
      ASSERT_TRUE(params.ok()) << params.status().ToString();
      if (params->prompt.rfind(hold, 0) == 0) continue;  // a lease left open
      const int cfg = static_cast<int>(params->cfg);
      farm_.Report(*agent_, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
                   {{"image", "png " + std::to_string(cfg) + "/" + std::to_string(params->seed)},
                    {"faces", FacesWithCosine(ScoreOf(cfg, params->seed))}});
      ++reported;
      farm_.Pump(3);
    }
  }

  // (cfg, seed) of every render of the sweep.
  std::set<Cell> Rendered(std::int64_t sweep_id) {
    auto rows = farm_.store().Select(
        "SELECT r.cfg, r.seed FROM render_results rr JOIN renders r ON r.id = rr.render_id "
        "WHERE rr.sweep_id = ?1",
        {store::SqlValue(sweep_id)});
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::set<Cell> out;
    if (!rows.ok()) return out;
    for (const auto& row : rows->rows) {
      const double cfg = std::holds_alternative<double>(row[0])
                             ? std::get<double>(row[0])
                             : static_cast<double>(std::get<std::int64_t>(row[0]));
      out.insert({static_cast<int>(cfg), static_cast<std::uint64_t>(std::get<std::int64_t>(row[1]))});
    }
    return out;
  }

  std::map<store::JobKind, int> JobsByKind(std::int64_t sweep_id) {
    store::JobFilter filter;
    filter.sweep_id = sweep_id;
    auto jobs = farm_.store().ListJobs(filter);
    EXPECT_TRUE(jobs.ok());
    std::map<store::JobKind, int> out;
    for (const store::Job& job : *jobs) {
      EXPECT_EQ(job.state, store::JobState::kSucceeded) << "job " << job.id << " " << job.last_error;
      ++out[job.kind];
    }
    return out;
  }

  store::SweepState State(std::int64_t sweep_id) {
    auto sweep = farm_.store().GetSweep(sweep_id);
    EXPECT_TRUE(sweep.ok());
    return sweep.ok() ? sweep->state : store::SweepState::kFailed;
  }

  Farm& farm() { return farm_; }

 private:
  TempDir dir_;
  Farm farm_;
  std::unique_ptr<transport::FakeAgentEnd> agent_;
};

TEST(AdaptiveSearchTest, KeepsTheBestCellsRungByRungAndReportsTheSaving) {
  SearchFarm farm;
  const SubmitResult submitted = farm.Submit(kSearchSpec);
  EXPECT_EQ(submitted.jobs_created, 12);  // rung 1: 6 renders and their 6 score jobs
  EXPECT_EQ(farm.Rendered(submitted.sweep_id).size(), 6u);
  farm.Join();
  farm.Serve();

  EXPECT_EQ(farm.Rendered(submitted.sweep_id), kExpectedRenders);
  auto kinds = farm.JobsByKind(submitted.sweep_id);
  EXPECT_EQ(kinds[store::JobKind::kRender], 13);
  EXPECT_EQ(kinds[store::JobKind::kScore], 13);
  EXPECT_EQ(farm.State(submitted.sweep_id), store::SweepState::kSucceeded);

  // The API's sweep answer (farmctl status/watch) says what the search saved.
  ApiRequest request;
  request.method = "GET";
  request.target = "/api/v1/sweeps/" + std::to_string(submitted.sweep_id);
  ApiResponse response = HandleApiRequest(farm.farm().coordinator(), {}, request);
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = nlohmann::json::parse(response.body);
  ASSERT_TRUE(body.contains("search")) << response.body;
  const auto& search = body["search"];
  EXPECT_EQ(search["rung"], 3);
  EXPECT_EQ(search["rungs"], 3);
  EXPECT_EQ(search["cells_per_rung"], nlohmann::json({6, 3, 2}));
  EXPECT_EQ(search["renders"], 13);
  EXPECT_EQ(search["renders_full_grid"], 24);
  EXPECT_EQ(search["jobs"], 26);
  EXPECT_EQ(search["jobs_full_grid"], 48);
  EXPECT_NEAR(search["saved_percent"].get<double>(), 100.0 * 22 / 48, 1e-9);
  EXPECT_TRUE(search["done"].get<bool>());
  EXPECT_NE(search["summary"].get<std::string>().find("26 of 48 jobs"), std::string::npos);
}

TEST(AdaptiveSearchTest, SameScoresGiveTheSameRendersTwice) {
  std::vector<std::set<Cell>> runs;
  for (int run = 0; run < 2; ++run) {
    SearchFarm farm;
    const SubmitResult submitted = farm.Submit(kSearchSpec);
    farm.Join();
    farm.Serve();
    EXPECT_EQ(farm.State(submitted.sweep_id), store::SweepState::kSucceeded);
    runs.push_back(farm.Rendered(submitted.sweep_id));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], kExpectedRenders);
}

TEST(AdaptiveSearchTest, KilledDuringARungTheRestartedFarmdFinishesTheSearch) {
  SearchFarm farm;
  const SubmitResult submitted = farm.Submit(kSearchSpec);
  farm.Join();
  farm.Serve(8);  // rung 1 (6 renders) and 2 of rung 2's 3
  ASSERT_EQ(farm.Rendered(submitted.sweep_id).size(), 9u);

  farm.farm().Crash();
  farm.farm().Open();
  // The agent went down with farmd: the render it had been offered expires and is
  // offered again.
  farm.farm().Pump(2, 40'000);
  farm.Join();
  farm.Serve();
  EXPECT_EQ(farm.Rendered(submitted.sweep_id), kExpectedRenders);
  auto kinds = farm.JobsByKind(submitted.sweep_id);
  EXPECT_EQ(kinds[store::JobKind::kRender], 13);
  EXPECT_EQ(kinds[store::JobKind::kScore], 13);
  EXPECT_EQ(farm.State(submitted.sweep_id), store::SweepState::kSucceeded);
}

TEST(AdaptiveSearchTest, ARungDueWhenKilledIsAddedOnRestart) {
  SearchFarm farm;
  // Another sweep whose render stays leased: with a lease open, the completion check runs
  // at most once a second, so farmd can be killed after rung 1 ended and before the check.
  const SubmitResult other = farm.Submit(SpecYaml(1, false, "other"));
  const SubmitResult submitted = farm.Submit(kSearchSpec);
  ASSERT_GT(other.sweep_id, 0);
  farm.Join(/*slots=*/2);
  farm.Serve(6, /*hold=*/"photo of");  // rung 1; the other sweep's render is held
  farm.farm().Pump(3);
  // Rung 1 is finished and scored, rung 2 not yet added.
  ASSERT_EQ(farm.Rendered(submitted.sweep_id).size(), 6u);
  auto open = farm.farm().store().CountJobsByState(submitted.sweep_id);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->count(store::JobState::kQueued), 0u);
  ASSERT_EQ(open->count(store::JobState::kLeased), 0u);

  farm.farm().Crash();
  farm.farm().Open();  // recovery checks the running sweep: rung 2 is due
  std::set<Cell> after_restart = farm.Rendered(submitted.sweep_id);
  EXPECT_EQ(after_restart.size(), 9u);
  EXPECT_TRUE(after_restart.count({4, 2}) && after_restart.count({5, 2}) &&
              after_restart.count({6, 2}));
  // Between rungs the API says the search goes on (farmctl watch keeps watching).
  ApiRequest request;
  request.method = "GET";
  request.target = "/api/v1/sweeps/" + std::to_string(submitted.sweep_id);
  auto body = nlohmann::json::parse(
      HandleApiRequest(farm.farm().coordinator(), {}, request).body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("search"));
  EXPECT_EQ(body["search"]["rung"], 2);
  EXPECT_EQ(body["search"]["cells_per_rung"], nlohmann::json({6, 3}));
  EXPECT_FALSE(body["search"]["done"].get<bool>());

  farm.Join(2);
  farm.Serve(1000, "photo of");
  EXPECT_EQ(farm.Rendered(submitted.sweep_id), kExpectedRenders);
  EXPECT_EQ(farm.State(submitted.sweep_id), store::SweepState::kSucceeded);
}

}  // namespace
}  // namespace farm::farmd::testing
