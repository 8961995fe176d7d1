// The routes behind the dashboard, called through HandleApiRequest on a real coordinator
// and store: the app shell without the token and every data route refusing without it;
// render queries in the filter language (bound values, caret errors, limits); a render's
// detail; images read safely from the artifact root; and the priority action, down to
// the order in which the scheduler offers jobs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "farm/farmd/api.h"
#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Farm;
using testing::TempDir;

constexpr char kToken[] = "tok";

class DashboardApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_.Open();
    options_.tokens = {*MakeApiToken(TokenKind::kAdmin, kToken)};
  }

  ApiResponse Call(const std::string& method, const std::string& target, const std::string& body = "",
                   bool with_token = true) {
    ApiRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.content_type = "application/json";
    if (with_token) request.authorization = std::string("Bearer ") + kToken;
    return HandleApiRequest(farm_.coordinator(), options_, request);
  }

  json CallJson(const std::string& method, const std::string& target, int status = 200,
                const std::string& body = "") {
    ApiResponse response = Call(method, target, body);
    EXPECT_EQ(response.status, status) << method << " " << target << ": " << response.body;
    return json::parse(response.body, nullptr, false);
  }

  std::int64_t StoreFile(const std::string& bytes, const std::string& media_type = "image/png") {
    store::NewArtifact artifact;
    artifact.sha256 = Sha256Hex(bytes);
    artifact.size = static_cast<std::int64_t>(bytes.size());
    artifact.path = "ab/" + artifact.sha256;
    artifact.media_type = media_type;
    fs::create_directories(farm_.artifact_root() / "ab");
    std::ofstream(farm_.artifact_root() / artifact.path, std::ios::binary) << bytes;
    auto id = farm_.store().InsertArtifact(artifact);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  // Four scored renders (cfg 5..8, scores .4 .7 .5 .6); render 0 keeps a stage image,
  // render 3 has no image yet.
  void WriteSweep() {
    store::NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    auto identity = farm_.store().CreateIdentity(ana);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    store::NewSweep sweep;
    sweep.name = "s";
    sweep.spec_yaml = "name: s\n";
    for (int i = 0; i < 4; ++i) {
      store::NewJob render;
      render.kind = store::JobKind::kRender;
      RenderParams p;
      p.prompt = "portrait";
      p.seed = 10 + i;
      p.sampler = i % 2 == 0 ? "Euler a" : "DPM++ 2M";
      p.cfg = 5 + i;
      render.render = p;
      sweep.jobs.push_back(render);
      store::NewJob score;
      score.kind = store::JobKind::kScore;
      score.params_json = "{\"i\":" + std::to_string(i) + "}";
      score.param_hash = Sha256Hex(score.params_json);
      sweep.jobs.push_back(score);
    }
    auto created = farm_.store().CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    sweep_ = created->sweep_id;
    const double scores[] = {0.4, 0.7, 0.5, 0.6};
    for (int i = 0; i < 4; ++i) {
      renders_.push_back(created->jobs.render_ids[2 * i]);
      if (i < 3) {
        store::RenderResultUpdate update;
        update.job_id = created->jobs.job_ids[2 * i];
        update.artifact_id = StoreFile("png-" + std::to_string(i));
        update.image_sha256 = Sha256Hex("png-" + std::to_string(i));
        ASSERT_TRUE(farm_.store().RecordRenderResult(update).ok());
      }
      store::NewScore score;
      score.render_id = renders_.back();
      score.identity_id = *identity;
      score.job_id = created->jobs.job_ids[2 * i + 1];
      score.metric = "cosine";
      score.model_version = "m";
      score.similarity = scores[i];
      score.faces_found = 1;
      ASSERT_TRUE(farm_.store().InsertScores({score}).ok());
    }
    ASSERT_TRUE(farm_.store().SetRenderStageImage(renders_[0], "txt2img", StoreFile("stage-0")).ok());
  }

  std::vector<std::int64_t> Ids(const json& answer) {
    std::vector<std::int64_t> ids;
    for (const json& row : answer.value("renders", json::array())) ids.push_back(row.value("id", 0));
    return ids;
  }

  TempDir dir_;
  Farm farm_{dir_.path()};
  ApiOptions options_;
  std::int64_t sweep_ = 0;
  std::vector<std::int64_t> renders_;
};

TEST_F(DashboardApiTest, AppShellLoadsWithoutTheTokenEveryDataRouteNeedsIt) {
  for (const char* path : {"/", "/dashboard", "/dashboard/"}) {
    ApiResponse shell = Call("GET", path, "", /*with_token=*/false);
    EXPECT_EQ(shell.status, 200) << path;
    EXPECT_NE(shell.content_type.find("text/html"), std::string::npos) << path;
    EXPECT_NE(shell.body.find("/dashboard/app.js"), std::string::npos) << path;
  }
  ApiResponse js = Call("GET", "/dashboard/app.js", "", false);
  EXPECT_EQ(js.status, 200);
  EXPECT_NE(js.content_type.find("javascript"), std::string::npos);
  EXPECT_EQ(Call("GET", "/dashboard/app.css", "", false).status, 200);
  // Only the embedded names: nothing is read from disk, no path escapes.
  EXPECT_EQ(Call("GET", "/dashboard/missing.js", "", false).status, 404);
  EXPECT_EQ(Call("GET", "/dashboard/../farm.db", "", false).status, 404);
  EXPECT_EQ(Call("GET", "/dashboard/web/app.js", "", false).status, 404);
  EXPECT_EQ(Call("POST", "/dashboard/", "", false).status, 405);

  WriteSweep();
  const std::string sweep = std::to_string(sweep_);
  const std::string render = std::to_string(renders_[0]);
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/renders"},
           {"GET", "/api/v1/renders?where=cfg%20%3E%205"},
           {"GET", "/api/v1/renders/" + render},
           {"GET", "/api/v1/renders/" + render + "/image"},
           {"GET", "/api/v1/renders/" + render + "/image?stage=txt2img"},
           {"POST", "/api/v1/sweeps/" + sweep + "/priority"},
           {"GET", "/api/v1/agents"}}) {
    ApiResponse refused = Call(method, target, "{\"priority\": 3}", /*with_token=*/false);
    EXPECT_EQ(refused.status, 401) << method << " " << target;
    EXPECT_EQ(refused.body.find("png-"), std::string::npos);
  }
  EXPECT_EQ(farm_.store().GetSweep(sweep_)->priority, 0) << "a refused priority call changed it";
}

TEST_F(DashboardApiTest, RenderQueriesFilterOrderAndLimit) {
  WriteSweep();
  json all = CallJson("GET", "/api/v1/renders?order_by=score%20desc");
  EXPECT_EQ(all.value("count", 0), 4);
  EXPECT_FALSE(all.value("truncated", true));
  EXPECT_EQ(Ids(all), (std::vector<std::int64_t>{renders_[1], renders_[3], renders_[2], renders_[0]}));
  // The query language, URL-encoded as the page sends it.
  json narrowed = CallJson("GET", "/api/v1/renders?where=cfg+%3E%3D+6+AND+sampler+%3D+%22DPM%2B%2B+2M%22&order_by=cfg");
  EXPECT_EQ(Ids(narrowed), (std::vector<std::int64_t>{renders_[1], renders_[3]}));
  json one = CallJson("GET", "/api/v1/renders?sweep=" + std::to_string(sweep_) + "&order_by=score&limit=1&columns=cfg,seed");
  EXPECT_EQ(Ids(one), std::vector<std::int64_t>{renders_[0]});
  EXPECT_TRUE(one.value("truncated", false));
  EXPECT_EQ(one["renders"][0].value("seed", 0), 10);
  EXPECT_EQ(CallJson("GET", "/api/v1/renders?sweep=999").value("count", -1), 0);
}

TEST_F(DashboardApiTest, BadQueriesAre400WithTheCaretMessage) {
  WriteSweep();
  json bad = CallJson("GET", "/api/v1/renders?where=cfgg%20%3E%3D%206", 400);
  EXPECT_EQ(bad["error"].value("code", ""), "invalid_query");
  const std::string message = bad["error"].value("message", "");
  EXPECT_NE(message.find("cfgg >= 6"), std::string::npos) << message;
  EXPECT_NE(message.find('^'), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'cfg'"), std::string::npos) << message;
  // Text never reaches the SQL: an injection attempt is a parse error, the table stays.
  CallJson("GET", "/api/v1/renders?where=cfg%20%3D%201%3B%20DROP%20TABLE%20renders", 400);
  CallJson("GET", "/api/v1/renders?order_by=score%3B%20DELETE%20FROM%20renders", 400);
  EXPECT_EQ(CallJson("GET", "/api/v1/renders").value("count", 0), 4);
  CallJson("GET", "/api/v1/renders?limit=0", 400);
  CallJson("GET", "/api/v1/renders?limit=abc", 400);
  CallJson("GET", "/api/v1/renders?sweep=-1", 400);
  CallJson("GET", "/api/v1/renders?token=tok", 400);  // unknown parameters are named, not ignored
  EXPECT_EQ(Call("POST", "/api/v1/renders").status, 405);
}

TEST_F(DashboardApiTest, RenderDetailHasColumnsResultsStagesAndParameterText) {
  WriteSweep();
  json detail = CallJson("GET", "/api/v1/renders/" + std::to_string(renders_[1]));
  EXPECT_EQ(detail["render"].value("cfg", 0.0), 6.0);
  EXPECT_EQ(detail["render"].value("sampler", ""), "DPM++ 2M");
  EXPECT_DOUBLE_EQ(detail["render"].value("score", 0.0), 0.7);
  EXPECT_EQ(detail.value("sweep", 0), sweep_);
  ASSERT_EQ(detail["results"].size(), 1u);
  EXPECT_EQ(detail["results"][0].value("image_sha256", ""), Sha256Hex("png-1"));
  EXPECT_EQ(detail.value("reproduce", ""), "farmctl reproduce " + std::to_string(renders_[1]));
  EXPECT_NE(detail.value("parameters", "").find("Steps: 25, Sampler: DPM++ 2M, CFG scale: 6, Seed: 11"),
            std::string::npos)
      << detail.dump();
  EXPECT_EQ(detail["params"].value("seed", 0), 11);
  EXPECT_EQ(CallJson("GET", "/api/v1/renders/" + std::to_string(renders_[0]))["stages"],
            json::array({"txt2img"}));
  CallJson("GET", "/api/v1/renders/" + std::to_string(renders_[1]) + "?sweep=999", 404);
  CallJson("GET", "/api/v1/renders/987654", 404);
  CallJson("GET", "/api/v1/renders/abc", 404);
}

TEST_F(DashboardApiTest, ImagesComeFromTheArtifactRootSafely) {
  WriteSweep();
  const std::string base = "/api/v1/renders/" + std::to_string(renders_[0]) + "/image";
  ApiResponse image = Call("GET", base + "?sweep=" + std::to_string(sweep_));
  EXPECT_EQ(image.status, 200) << image.body;
  EXPECT_EQ(image.content_type, "image/png");
  EXPECT_EQ(image.body, "png-0");
  ApiResponse stage = Call("GET", base + "?stage=txt2img");
  EXPECT_EQ(stage.status, 200) << stage.body;
  EXPECT_EQ(stage.body, "stage-0");
  EXPECT_EQ(Call("GET", base + "?stage=upscale").status, 404);
  EXPECT_EQ(Call("GET", base + "?path=/etc/passwd").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/renders/" + std::to_string(renders_[3]) + "/image").status, 404);

  // A stored file swapped for a symlink is not followed; a file of the wrong size is refused.
  const fs::path file = farm_.artifact_root() / "ab" / Sha256Hex("png-1");
  fs::remove(file);
  std::ofstream(dir_.path() / "secret") << "png-1";
  fs::create_symlink(dir_.path() / "secret", file);
  ApiResponse linked = Call("GET", "/api/v1/renders/" + std::to_string(renders_[1]) + "/image");
  EXPECT_EQ(linked.status, 503) << linked.body;
  EXPECT_EQ(linked.body.find("\"png-1\""), std::string::npos);
  const fs::path other = farm_.artifact_root() / "ab" / Sha256Hex("png-2");
  std::ofstream(other, std::ios::trunc) << "png-2 and more";
  EXPECT_EQ(Call("GET", "/api/v1/renders/" + std::to_string(renders_[2]) + "/image").status, 503);
}

TEST_F(DashboardApiTest, PriorityIsStoredAndReordersTheQueue) {
  const SubmitResult first = farm_.Submit(3);
  const SubmitResult second = farm_.Submit(3);
  const std::string route = "/api/v1/sweeps/" + std::to_string(second.sweep_id) + "/priority";
  CallJson("POST", route, 400, "not json");
  CallJson("POST", route, 400, "{\"priority\": \"high\"}");
  CallJson("POST", route, 400, "{\"priority\": 1.5}");
  CallJson("POST", route, 400, "{\"priority\": 99999999999}");
  CallJson("POST", "/api/v1/sweeps/999/priority", 404, "{\"priority\": 1}");
  EXPECT_EQ(Call("GET", route).status, 405);
  json answer = CallJson("POST", route, 200, "{\"priority\": 5}");
  EXPECT_EQ(answer.value("priority", 0), 5);
  EXPECT_EQ(farm_.store().GetSweep(second.sweep_id)->priority, 5);
  EXPECT_EQ(farm_.store().GetSweep(first.sweep_id)->priority, 0);
  store::JobFilter filter;
  filter.sweep_id = second.sweep_id;
  auto jobs = farm_.store().ListJobs(filter);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 3u);
  for (const store::Job& job : *jobs) EXPECT_EQ(job.priority, 5);

  // The later sweep now runs first: one slot, three offers, all of the second sweep.
  auto agent = farm_.Join("a1", 1);
  std::set<std::int64_t> second_jobs;
  for (const store::Job& job : *jobs) second_jobs.insert(job.id);
  ASSERT_EQ(second_jobs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto offer = farm_.Await(*agent, testing::v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value());
    const auto lease = offer->job_offer().lease();
    EXPECT_TRUE(second_jobs.count(static_cast<std::int64_t>(lease.job_id())))
        << "offer " << i << " is job " << lease.job_id() << " of the first sweep";
    farm_.Report(*agent, lease, testing::v1::RESULT_STATUS_SUCCEEDED, {}, "",
                 std::vector<std::string>{Sha256Hex("model-b"), Sha256Hex("model-a")});
    farm_.Pump();
  }
  // The agents page lists the models an agent holds, as it last reported them.
  json agents = CallJson("GET", "/api/v1/agents");
  ASSERT_EQ(agents["agents"].size(), 1u);
  std::vector<std::string> held = {Sha256Hex("model-a"), Sha256Hex("model-b")};
  std::sort(held.begin(), held.end());
  EXPECT_EQ(agents["agents"][0]["models"], json(held));
  EXPECT_EQ(agents["agents"][0].value("slots", 0), 1);
}

}  // namespace
}  // namespace farm::farmd
