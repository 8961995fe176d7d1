// farmctl renders / top / show / export on a database filled through the store (render and
// score jobs, results with artifacts on disk under <db dir>/artifacts, scores, an attempt
// with metrics), with farmctl run as a process.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/schemas/render_infotext.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::FileBytes;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
constexpr char kRecord[] =
    R"({"param_hash":"x","width":1024,"height":1536,"stages":[{"stage":"detailer#1","kind":"detailer","settings":{"denoise":0.4}}]})";

class FarmctlRendersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_renders_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    auto opened = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    farm::store::Store& store = **opened;
    auto identity = store.CreateIdentity({"ana", "sks person", {}});
    ASSERT_TRUE(identity.ok());

    // Sweep "portraits": renders 0..3 and a score job each; render 3 is never rendered.
    farm::store::NewSweep sweep{"portraits", "name: portraits\n", 0, {}};
    for (int i = 0; i < 4; ++i) {
      farm::store::NewJob job;
      job.kind = farm::store::JobKind::kRender;
      job.render = Params(i);
      sweep.jobs.push_back(job);
    }
    for (int i = 0; i < 4; ++i) {
      farm::store::NewJob score;
      score.kind = farm::store::JobKind::kScore;
      score.params_json = "{\"score\":" + std::to_string(i) + "}";
      score.param_hash = farm::Sha256Hex(score.params_json);
      sweep.jobs.push_back(score);
    }
    auto created = store.CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    sweep_ = created->sweep_id;
    for (int i = 0; i < 4; ++i) {
      ids_.push_back(created->jobs.render_ids[i]);
      jobs_.push_back(created->jobs.job_ids[i]);
    }
    const double scores[] = {0.8, 0.6, 0.9};
    for (int i = 0; i < 3; ++i) {
      const std::string png = "\x89PNG\r\n\x1a\n fake image " + std::to_string(i);
      images_.push_back(png);
      const std::int64_t image = Artifact(store, png, "images", "image/png");
      farm::store::RenderResultUpdate update;
      update.job_id = jobs_[i];
      update.artifact_id = image;
      update.image_sha256 = farm::Sha256Hex(png);
      update.agent_id = "agent-1";
      update.seconds = 10 + i;
      ASSERT_TRUE(store.RecordRenderResult(update).ok());
      ASSERT_TRUE(store.SetRenderArtifact(ids_[i], image).ok());
      farm::store::NewScore score{ids_[i], *identity, created->jobs.job_ids[4 + i], "cosine", "m1", scores[i], 1, ""};
      ASSERT_TRUE(store.InsertScores({score}).ok());
    }
    ASSERT_TRUE(store.SetRenderRecordArtifact(ids_[0], Artifact(store, kRecord, "records", "application/json")).ok());
    stage_png_ = std::string("\x89PNG\r\n\x1a\n txt2img stage");
    ASSERT_TRUE(store.SetRenderStageImage(ids_[0], "txt2img", Artifact(store, stage_png_, "stages", "image/png")).ok());

    // One attempt of render 0's job with the agent's seconds per stage.
    farm::store::AgentRecord agent;
    agent.id = "agent-1";
    agent.hostname = "host";
    agent.device_kind = "cpu";
    ASSERT_TRUE(store.UpsertAgent(agent).ok());
    ASSERT_TRUE(store.StartAttempt(jobs_[0], "agent-1", 1'000'000'000'000'000).ok());
    ASSERT_TRUE(store.SetAttemptMetrics(jobs_[0], 1, R"({"seconds_txt2img":3.5,"seconds_total":4.25,"faces_found":1})").ok());
    ASSERT_TRUE(store.FinishAttempt(jobs_[0], 1, farm::store::AttemptOutcome::kSucceeded, "",
                                    farm::store::JobState::kSucceeded).ok());
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  static farm::RenderParams Params(int i) {
    farm::RenderParams p;
    p.prompt = i == 1 ? "portrait, \"studio\" light" : "portrait of sks person";
    p.negative_prompt = "blurry";
    p.seed = 500 + i;
    p.sampler = i % 2 ? "Euler a" : "DPM++ 2M";
    p.scheduler = i % 2 ? "normal" : "karras";
    p.cfg = 5 + i;
    p.pose = i == 2 ? "profile" : "front";
    p.checkpoint_sha256 = farm::Sha256Hex("ckpt");
    return p;
  }

  // Stores `bytes` under artifacts/<folder>/<sha256> and records the artifact.
  std::int64_t Artifact(farm::store::Store& store, const std::string& bytes, const std::string& folder,
                        const std::string& media_type) {
    farm::store::NewArtifact artifact;
    artifact.sha256 = farm::Sha256Hex(bytes);
    artifact.size = static_cast<std::int64_t>(bytes.size());
    artifact.path = folder + "/" + artifact.sha256;
    artifact.media_type = media_type;
    fs::create_directories(dir_ + "/artifacts/" + folder);
    std::ofstream(dir_ + "/artifacts/" + artifact.path, std::ios::binary) << bytes;
    auto id = store.InsertArtifact(artifact);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  CliRun Farmctl(const std::string& args) {
    return Shell(kFarmctl + " " + args + " --db " + Quote(db_) + " 2>&1");
  }
  CliRun FarmctlStdout(const std::string& args) {
    return Shell(kFarmctl + " " + args + " --db " + Quote(db_) + " 2>/dev/null");
  }
  json JsonOf(const std::string& args) {
    const CliRun run = FarmctlStdout(args + " --json");
    EXPECT_EQ(run.exit_code, 0) << Farmctl(args).out;
    json value = json::parse(run.out, nullptr, false);
    EXPECT_FALSE(value.is_discarded()) << run.out;
    return value;
  }
  std::string Base(int i) {
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
    return std::to_string(ids_[i]) + "-" + (*store)->GetRender(ids_[i])->param_hash.substr(0, 8);
  }
  std::string ExpectedParameters(int i, int final_width, int final_height) {
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
    auto render = (*store)->GetRender(ids_[i]);
    farm::RenderInfotextNames names;
    names.final_width = final_width;
    names.final_height = final_height;
    auto params = farm::RenderGenerationParameters(render->params, names, render->param_hash, std::to_string(ids_[i]));
    return farm::FormatParameters(*params).value();
  }

  std::string dir_, db_, stage_png_;
  std::int64_t sweep_ = 0;
  std::vector<std::int64_t> ids_, jobs_;
  std::vector<std::string> images_;
};

TEST_F(FarmctlRendersTest, JsonIsOneArrayOrderedByScoreWithIdHashAndScore) {
  const json rows = JsonOf("renders --sweep portraits --order-by 'score desc' --columns sampler,cfg");
  ASSERT_TRUE(rows.is_array()) << rows.dump();
  ASSERT_EQ(rows.size(), 4u);
  std::vector<std::int64_t> order;
  for (const json& row : rows) {
    order.push_back(row.value("id", std::int64_t{0}));
    EXPECT_TRUE(row.contains("param_hash") && row.contains("score") && row.contains("cfg")) << row.dump();
  }
  EXPECT_EQ(order, (std::vector<std::int64_t>{ids_[2], ids_[0], ids_[1], ids_[3]}));
  EXPECT_DOUBLE_EQ(rows[0].value("score", 0.0), 0.9);
  EXPECT_EQ(rows[0].value("sampler", ""), "DPM++ 2M");
  EXPECT_TRUE(rows[3]["score"].is_null());

  const json filtered = JsonOf("renders --where \"cfg >= 6 AND pose IN ('front')\" --order-by cfg");
  ASSERT_EQ(filtered.size(), 2u) << filtered.dump();
  EXPECT_EQ(filtered[0].value("id", std::int64_t{0}), ids_[1]);
  EXPECT_EQ(filtered[1].value("id", std::int64_t{0}), ids_[3]);
  EXPECT_EQ(JsonOf("renders --limit 1").size(), 1u);
}

TEST_F(FarmctlRendersTest, CsvQuotesAndTableShowsNullAsDash) {
  const CliRun csv = FarmctlStdout("renders --columns prompt --order-by id --csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.out;
  EXPECT_EQ(csv.out.substr(0, csv.out.find("\r\n")), "id,param_hash,score,prompt");
  EXPECT_NE(csv.out.find(",\"portrait, \"\"studio\"\" light\"\r\n"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(",,portrait of sks person\r\n"), std::string::npos) << csv.out;  // NULL score: empty

  const CliRun table = FarmctlStdout("renders --columns pose,score --order-by id");
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table.out;
  // Hashes shortened to 12 characters; render 2 scored 0.9, render 3 not scored ("-").
  auto line_of = [&](int i) {
    const std::size_t start = table.out.find("\n" + std::to_string(ids_[i]) + " ");
    return start == std::string::npos ? std::string() : table.out.substr(start + 1, table.out.find('\n', start + 1) - start - 1);
  };
  auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
  const std::string hash = (*store)->GetRender(ids_[2])->param_hash;
  EXPECT_NE(line_of(2).find("  " + hash.substr(0, 12) + "  "), std::string::npos) << table.out;
  EXPECT_TRUE(line_of(2).ends_with("  profile  0.9")) << table.out;
  EXPECT_TRUE(line_of(3).ends_with("  front    -")) << table.out;
  EXPECT_NE(table.out.find("4 renders"), std::string::npos);
}

TEST_F(FarmctlRendersTest, BadExpressionExitsTwoWithCaretAndSuggestion) {
  const CliRun run = Farmctl("renders --where \"smpler = 'Euler a'\"");
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.out.find("smpler = 'Euler a'"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("^"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("sampler"), std::string::npos) << run.out;
  EXPECT_EQ(Farmctl("top portraits --where 'cfg >'").exit_code, 2);
  const CliRun help = Farmctl("renders --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("IS NOT NULL"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("lora_weight"), std::string::npos) << help.out;
}

TEST_F(FarmctlRendersTest, TopGivesTheBestWithTheirParametersText) {
  const json top = JsonOf("top portraits -k 2");
  ASSERT_EQ(top["renders"].size(), 2u) << top.dump();
  EXPECT_EQ(top["renders"][0].value("id", std::int64_t{0}), ids_[2]);
  EXPECT_EQ(top["renders"][1].value("id", std::int64_t{0}), ids_[0]);
  EXPECT_EQ(top["renders"][0].value("parameters", ""), ExpectedParameters(2, 0, 0));
  // Render 0's record gives the final size.
  EXPECT_EQ(top["renders"][1].value("parameters", ""), ExpectedParameters(0, 1024, 1536));
  EXPECT_NE(ExpectedParameters(0, 1024, 1536).find("Final size: 1024x1536"), std::string::npos);
  EXPECT_EQ(top["renders"][0].value("image", ""), dir_ + "/artifacts/images/" + farm::Sha256Hex(images_[2]));

  const CliRun text = FarmctlStdout("top " + std::to_string(sweep_) + " -k 1");
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("\n" + ExpectedParameters(2, 0, 0) + "\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("render " + std::to_string(ids_[0])), std::string::npos) << text.out;
}

TEST_F(FarmctlRendersTest, ShowHasEverySection) {
  const json show = JsonOf("show " + std::to_string(ids_[0]));
  EXPECT_EQ(show["params"].value("seed", 0), 500);
  EXPECT_EQ(show["params"].value("sampler", ""), "DPM++ 2M");
  EXPECT_EQ(show["record"]["stages"][0].value("stage", ""), "detailer#1");
  ASSERT_EQ(show["timings"].size(), 1u) << show.dump(2);
  EXPECT_DOUBLE_EQ(show["timings"][0]["seconds"].value("txt2img", 0.0), 3.5);
  EXPECT_DOUBLE_EQ(show["timings"][0]["seconds"].value("total", 0.0), 4.25);
  ASSERT_EQ(show["scores"]["results"].size(), 1u);
  EXPECT_DOUBLE_EQ(show["scores"]["results"][0].value("score", 0.0), 0.8);
  EXPECT_EQ(show["scores"]["results"][0].value("agent", ""), "agent-1");
  EXPECT_EQ(show["scores"]["scores"][0].value("identity", ""), "ana");
  EXPECT_EQ(show["files"]["image"].value("path", ""), dir_ + "/artifacts/images/" + farm::Sha256Hex(images_[0]));
  EXPECT_TRUE(show["files"]["image"].value("exists", false));
  EXPECT_EQ(show["files"]["stages"]["txt2img"].value("path", ""),
            dir_ + "/artifacts/stages/" + farm::Sha256Hex(stage_png_));
  EXPECT_EQ(show.value("parameters", ""), ExpectedParameters(0, 1024, 1536));
  EXPECT_EQ(show.value("reproduce", "").rfind("farmctl reproduce " + std::to_string(ids_[0]) + " --db '" + db_ + "'", 0), 0u)
      << show.value("reproduce", "");

  const CliRun text = FarmctlStdout("show " + std::to_string(ids_[0]));
  ASSERT_EQ(text.exit_code, 0) << text.out;
  for (const char* section : {"\nparams\n", "\nrecipe record\n", "\ntimings\n", "\nscores\n", "\nfiles\n", "\nreproduce\n"}) {
    EXPECT_NE(text.out.find(section), std::string::npos) << section << "\n" << text.out;
  }
  EXPECT_NE(text.out.find("txt2img 3.5s"), std::string::npos) << text.out;
  EXPECT_EQ(Farmctl("show 9999").exit_code, 1);
  EXPECT_EQ(Farmctl("show " + std::to_string(ids_[0]) + " --sweep nosuch").exit_code, 1);
}

TEST_F(FarmctlRendersTest, ExportWritesImagesSidecarsAndStagesAndNeverOverwrites) {
  const std::string out = dir_ + "/out";
  const CliRun run = Farmctl("export " + std::to_string(ids_[0]) + " " + std::to_string(ids_[2]) + " -o " + Quote(out));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("exported 2 renders"), std::string::npos) << run.out;
  EXPECT_EQ(FileBytes(out + "/" + Base(0) + ".png"), images_[0]);
  EXPECT_EQ(FileBytes(out + "/" + Base(2) + ".png"), images_[2]);
  EXPECT_EQ(FileBytes(out + "/" + Base(0) + "/txt2img.png"), stage_png_);
  const json sidecar = json::parse(FileBytes(out + "/" + Base(0) + ".json"), nullptr, false);
  ASSERT_FALSE(sidecar.is_discarded());
  EXPECT_EQ(sidecar["params"].value("seed", 0), 500);
  EXPECT_EQ(sidecar.value("parameters", ""), ExpectedParameters(0, 1024, 1536));
  EXPECT_DOUBLE_EQ(sidecar["scores"][0].value("similarity", 0.0), 0.8);

  // Again: same bytes are left alone; a changed file is not overwritten and says so.
  const json again = JsonOf("export " + std::to_string(ids_[0]) + " -o " + Quote(out));
  EXPECT_EQ(again.value("written", -1), 0);
  EXPECT_EQ(again.value("unchanged", -1), 3);
  std::ofstream(out + "/" + Base(0) + ".png", std::ios::binary) << "mine";
  const CliRun conflict = Farmctl("export " + std::to_string(ids_[0]) + " -o " + Quote(out));
  EXPECT_EQ(conflict.exit_code, 1) << conflict.out;
  EXPECT_NE(conflict.out.find("not overwritten"), std::string::npos) << conflict.out;
  EXPECT_EQ(FileBytes(out + "/" + Base(0) + ".png"), "mine");

  // By expression: renders 1 and 2 (cfg >= 6 with an image).
  const json by_where = JsonOf("export --where 'cfg >= 6 AND image_sha256 IS NOT NULL' -o " + Quote(dir_ + "/w"));
  ASSERT_EQ(by_where["renders"].size(), 2u) << by_where.dump();
  EXPECT_EQ(FileBytes(dir_ + "/w/" + Base(1) + ".png"), images_[1]);

  // A missing render or one without an image refuses before writing anything.
  const CliRun missing = Farmctl("export " + std::to_string(ids_[1]) + " 9999 -o " + Quote(dir_ + "/m"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("render 9999 does not exist"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(dir_ + "/m"));
  const CliRun unrendered = Farmctl("export " + std::to_string(ids_[3]) + " -o " + Quote(dir_ + "/m"));
  EXPECT_EQ(unrendered.exit_code, 1);
  EXPECT_NE(unrendered.out.find("no stored image"), std::string::npos) << unrendered.out;
  EXPECT_EQ(Farmctl("export --where 'cfg >>' -o " + Quote(dir_ + "/m")).exit_code, 2);
  const CliRun elsewhere = Farmctl("export " + std::to_string(ids_[0]) + " --artifacts " + Quote(dir_ + "/nowhere") +
                                   " -o " + Quote(dir_ + "/m"));
  EXPECT_EQ(elsewhere.exit_code, 1);
  EXPECT_NE(elsewhere.out.find("does not exist (pass --artifacts DIR"), std::string::npos) << elsewhere.out;
  EXPECT_FALSE(fs::exists(dir_ + "/m"));
}

}  // namespace
