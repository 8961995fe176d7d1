// Renders and artifacts: typed columns, dedup by param_hash, filters, content addressing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/render_sql.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::Row;
using testing_util::SampleRender;
using testing_util::TempDir;

class StoreRendersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("farm.db");
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
    NewSweep sweep;
    sweep.name = "renders";
    auto created = store_->CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    sweep_id_ = created->sweep_id;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
  std::int64_t sweep_id_ = 0;
};

TEST_F(StoreRendersTest, TypedColumnsCanonicalJsonAndHash) {
  RenderParams params = SampleRender(1);
  params.seed = 18446744073709551615ULL;  // 2^64 - 1: stored wrapped, JSON keeps it
  params.loras.push_back({"sha256:" + Sha256Hex("second"), 0.3});
  params.controlnets.push_back({Sha256Hex("openpose"), "pose:frontal", 0.9, 0.0, 0.8});
  params.stages.push_back({"detailer", {{"denoise", 0.35}, {"target", std::string("face")}}});
  auto inserted = store_->InsertRenders({Row(params, sweep_id_)});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  ASSERT_EQ(inserted->size(), 1u);
  EXPECT_TRUE((*inserted)[0].created);
  const std::string id = std::to_string((*inserted)[0].id);

  const std::string row =
      RawSql(path_,
             "SELECT printf('%d|%s|%s|%d|%g|%d|%d|%d|%s|%s|%g|%s|%g|%s|%s|%s', seed, sampler, "
             "scheduler, steps, cfg, clip_skip, width, height, pose, tone, denoise, lora_ref, "
             "lora_weight, checkpoint_sha256 = '" +
                 Sha256Hex("checkpoint") +
                 "', json_extract(" + kRenderSharedSql + ", '$.prompt'), json_extract(" +
                 kRenderSharedSql + ", '$.negative_prompt')) FROM renders r WHERE id = " + id);
  EXPECT_EQ(row, "-1|DPM++ 2M|karras|25|6.5|2|512|768|three_quarter_left|warm|1|sha256:" +
                     Sha256Hex("lora") +
                     "|0.75|1|studio portrait of sks person, golden light|blurry");
  EXPECT_EQ(RawSql(path_, "SELECT param_hash FROM renders WHERE id = " + id),
            ParamHash(params).value());
  EXPECT_EQ(RawSql(path_, "SELECT artifact_id IS NULL FROM renders WHERE id = " + id), "1");

  auto render = store_->GetRender((*inserted)[0].id);
  ASSERT_TRUE(render.ok()) << render.status().ToString();
  EXPECT_EQ(render->params_json, ToCanonicalJson(params).value());
  EXPECT_EQ(render->params.seed, params.seed);
  EXPECT_EQ(render->params.loras.size(), 2u);
  EXPECT_EQ(render->params.controlnets.size(), 1u);
  EXPECT_EQ(ParamHash(render->params).value(), render->param_hash);
  EXPECT_FALSE(render->job_id.has_value());
  EXPECT_FALSE(render->artifact_id.has_value());
}

TEST_F(StoreRendersTest, NoPoseNoToneNoLoraAreNull) {
  RenderParams params = SampleRender(3);  // no pose
  params.tone.clear();
  params.loras.clear();
  auto inserted = store_->InsertRenders({Row(params)});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(RawSql(path_,
                   "SELECT (pose IS NULL) + (tone IS NULL) + (lora_ref IS NULL) + "
                   "(lora_weight IS NULL) FROM renders"),
            "4");
}

TEST_F(StoreRendersTest, DuplicateParamHashReturnsExistingIdAndLinksSweep) {
  auto first = store_->InsertRenders({Row(SampleRender(1), sweep_id_), Row(SampleRender(2))});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  NewSweep other;
  other.name = "other";
  auto other_sweep = store_->CreateSweep(other);
  ASSERT_TRUE(other_sweep.ok());

  auto again = store_->InsertRenders({Row(SampleRender(2), other_sweep->sweep_id),
                                      Row(SampleRender(5), other_sweep->sweep_id),
                                      Row(SampleRender(5), other_sweep->sweep_id)});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)[0].id, (*first)[1].id);
  EXPECT_FALSE((*again)[0].created);
  EXPECT_TRUE((*again)[1].created);
  EXPECT_EQ((*again)[2].id, (*again)[1].id);
  EXPECT_FALSE((*again)[2].created);
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders"), "3");

  RenderFilter filter;
  filter.sweep_id = other_sweep->sweep_id;
  auto linked = store_->ListRenders(filter);
  ASSERT_TRUE(linked.ok());
  ASSERT_EQ(linked->size(), 2u);
  EXPECT_EQ((*linked)[0].id, (*first)[1].id);

  auto by_hash = store_->GetRenderByHash(ParamHash(SampleRender(2)).value());
  ASSERT_TRUE(by_hash.ok());
  EXPECT_EQ(by_hash->id, (*first)[1].id);
  auto missing = store_->GetRenderByHash(Sha256Hex("nope"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(path_));
}

TEST_F(StoreRendersTest, PrecomputedCanonicalFormIsStoredAsGiven) {
  NewRender given = Row(SampleRender(7));
  given.params_json = ToCanonicalJson(given.params).value();
  given.param_hash = Sha256Hex(given.params_json);
  auto inserted = store_->InsertRenders({given});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(store_->GetRender((*inserted)[0].id)->params_json, given.params_json);
  // The same record canonicalised by the store is the same row.
  auto computed = store_->InsertRenders({Row(SampleRender(7))});
  ASSERT_TRUE(computed.ok());
  EXPECT_EQ((*computed)[0].id, (*inserted)[0].id);
  EXPECT_FALSE((*computed)[0].created);

  // A malformed hash is refused, and nothing of its batch is written.
  NewRender malformed = Row(SampleRender(8));
  malformed.params_json = ToCanonicalJson(malformed.params).value();
  malformed.param_hash = "0123ABCD";
  auto refused = store_->InsertRenders({Row(SampleRender(9)), malformed});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("render #1"));
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders"), "1");
}

// 0014_render_settings.sql: a sweep's renders keep their own members, the rest once.
TEST_F(StoreRendersTest, SharedSettingsAreStoredOnceAndRecordsComeBackExactly) {
  std::vector<NewRender> rows;
  for (int i = 0; i < 40; ++i) {
    RenderParams params = SampleRender(i);  // two samplers (own), with and without a pose
    params.seed = 5000 + static_cast<std::uint64_t>(i);
    params.cfg = 3.0 + 0.5 * (i % 7);
    rows.push_back(Row(params, sweep_id_));
  }
  auto inserted = store_->InsertRenders(rows);
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  // Pose ("" or three_quarter_left) is shared; samplers are not: two settings rows.
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM render_settings"), "2");
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders WHERE settings_id IS NULL"), "0");
  // A later batch finds the stored settings instead of adding its own.
  RenderParams later = SampleRender(3);
  later.seed = 1;
  auto again = store_->InsertRenders({Row(later, sweep_id_)});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM render_settings"), "2");

  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string canonical = ToCanonicalJson(rows[i].params).value();
    auto render = store_->GetRender((*inserted)[i].id);
    ASSERT_TRUE(render.ok()) << render.status().ToString();
    EXPECT_EQ(render->params_json, canonical) << i;
    EXPECT_EQ(Sha256Hex(render->params_json), render->param_hash) << i;
    // The row holds only the own members: the prompt is not repeated in it.
    EXPECT_EQ(RawSql(path_, "SELECT instr(params_json, 'studio portrait') FROM renders WHERE id = " +
                                std::to_string(render->id)),
              "0");
    // SQL readers see the same members (in another key order).
    const std::string id = std::to_string(render->id);
    EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM json_each((SELECT params_json FROM render_records "
                            "WHERE render_id = " + id + "))"),
              RawSql(path_, "SELECT count(*) FROM json_each('" + canonical + "')"));
    EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM json_each((SELECT params_json FROM render_records "
                            "WHERE render_id = " + id + ")) e JOIN json_each('" + canonical +
                            "') c ON c.key = e.key AND c.value IS e.value"),
              RawSql(path_, "SELECT count(*) FROM json_each('" + canonical + "')"));
  }
  RenderFilter filter;
  filter.sweep_id = sweep_id_;
  filter.limit = 5;
  auto listed = store_->ListRenders(filter);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 5u);
  EXPECT_EQ((*listed)[4].params_json, ToCanonicalJson(rows[4].params).value());
}

// Rows stored before 0014 hold their whole record and no settings row; both forms read.
TEST_F(StoreRendersTest, WholeRecordsStillRead) {
  auto inserted = store_->InsertRenders({Row(SampleRender(1), sweep_id_)});
  ASSERT_TRUE(inserted.ok());
  const std::string canonical = ToCanonicalJson(SampleRender(1)).value();
  const std::string id = std::to_string((*inserted)[0].id);
  RawSql(path_, "UPDATE renders SET settings_id = NULL, params_json = '" + canonical +
                    "' WHERE id = " + id);
  auto render = store_->GetRender((*inserted)[0].id);
  ASSERT_TRUE(render.ok()) << render.status().ToString();
  EXPECT_EQ(render->params_json, canonical);
  EXPECT_EQ(RawSql(path_, "SELECT json_extract(" + std::string(kRenderSharedSql) +
                              ", '$.prompt') FROM renders r WHERE id = " + id),
            SampleRender(1).prompt);
  EXPECT_EQ(RawSql(path_, "SELECT json_extract(" + std::string(kRenderRecordSql) +
                              ", '$.seed') FROM renders r WHERE id = " + id),
            "1001");
}

// A split row whose settings row was damaged is reported, not read as another record.
TEST_F(StoreRendersTest, DamagedSettingsAreDataLoss) {
  auto inserted = store_->InsertRenders({Row(SampleRender(1), sweep_id_)});
  ASSERT_TRUE(inserted.ok());
  RawSql(path_, "UPDATE render_settings SET settings_json = '[1]'");
  auto render = store_->GetRender((*inserted)[0].id);
  ASSERT_FALSE(render.ok());
  EXPECT_EQ(render.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(render.status().message(), HasSubstr("render settings"));
}

TEST_F(StoreRendersTest, ListFilters) {
  std::vector<NewRender> renders;
  for (int i = 0; i < 12; ++i) renders.push_back(Row(SampleRender(i), sweep_id_));
  auto inserted = store_->InsertRenders(renders);
  ASSERT_TRUE(inserted.ok());

  RenderFilter euler;
  euler.sampler = "Euler";
  EXPECT_EQ(store_->ListRenders(euler)->size(), 6u);
  RenderFilter no_pose;
  no_pose.pose = "";
  EXPECT_EQ(store_->ListRenders(no_pose)->size(), 4u);  // i = 0, 3, 6, 9
  RenderFilter posed_euler;
  posed_euler.pose = "three_quarter_left";
  posed_euler.sampler = "Euler";
  EXPECT_EQ(store_->ListRenders(posed_euler)->size(), 4u);  // i = 2, 4, 8, 10
  RenderFilter cool;
  cool.tone = "cool";
  EXPECT_TRUE(store_->ListRenders(cool)->empty());

  RenderFilter page;
  page.sweep_id = sweep_id_;
  page.limit = 5;
  auto first_page = store_->ListRenders(page);
  ASSERT_TRUE(first_page.ok());
  ASSERT_EQ(first_page->size(), 5u);
  EXPECT_EQ(first_page->front().id, (*inserted)[0].id);
  page.after_id = first_page->back().id;
  page.limit = 100;
  EXPECT_EQ(store_->ListRenders(page)->size(), 7u);

  auto artifact = store_->InsertArtifact({Sha256Hex("png-0"), 1234, "r/0.png", "image/png"});
  ASSERT_TRUE(artifact.ok());
  ASSERT_TRUE(store_->SetRenderArtifact((*inserted)[0].id, *artifact).ok());
  RenderFilter rendered;
  rendered.rendered = true;
  auto done = store_->ListRenders(rendered);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ(done->front().artifact_id, *artifact);
  EXPECT_TRUE(done->front().rendered_at_ms.has_value());
  rendered.rendered = false;
  EXPECT_EQ(store_->ListRenders(rendered)->size(), 11u);
  EXPECT_EQ(store_->SetRenderArtifact(999, *artifact).code(), StatusCode::kNotFound);

  // Stage images: one per stage name, a second upload replaces the first.
  const std::int64_t render = (*inserted)[0].id;
  auto txt2img = store_->InsertArtifact({Sha256Hex("stage-0"), 10, "r/s0.png", "image/png"});
  auto tone = store_->InsertArtifact({Sha256Hex("stage-1"), 10, "r/s1.png", "image/png"});
  ASSERT_TRUE(txt2img.ok() && tone.ok());
  ASSERT_TRUE(store_->SetRenderStageImage(render, "txt2img", *artifact).ok());
  ASSERT_TRUE(store_->SetRenderStageImage(render, "txt2img", *txt2img).ok());
  ASSERT_TRUE(store_->SetRenderStageImage(render, "tone#1", *tone).ok());
  auto stages = store_->ListRenderStageImages(render);
  ASSERT_TRUE(stages.ok()) << stages.status().ToString();
  EXPECT_EQ(*stages, (std::map<std::string, std::int64_t>{{"tone#1", *tone}, {"txt2img", *txt2img}}));
  EXPECT_TRUE(store_->ListRenderStageImages((*inserted)[1].id)->empty());
  EXPECT_EQ(store_->SetRenderStageImage(render, "", *tone).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->SetRenderStageImage(999, "txt2img", *tone).ok());  // no such render

  auto record = store_->InsertArtifact({Sha256Hex("record"), 10, "r/rec.json", "application/json"});
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(store_->SetRenderRecordArtifact(render, *record).ok());
  auto reread = store_->GetRender(render);
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->record_artifact_id, *record);
  EXPECT_EQ(store_->SetRenderRecordArtifact(999, *record).code(), StatusCode::kNotFound);
}

TEST_F(StoreRendersTest, ArtifactsAreContentAddressed) {
  const NewArtifact png{Sha256Hex("pixels"), 4096, "renders/ab/cd.png", "image/png"};
  auto id = store_->InsertArtifact(png);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto again = store_->InsertArtifact(png);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  NewArtifact other_size = png;
  other_size.size = 1;
  EXPECT_EQ(store_->InsertArtifact(other_size).status().code(), StatusCode::kInvalidArgument);

  auto by_id = store_->GetArtifact(*id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->sha256, png.sha256);
  EXPECT_EQ(by_id->size, 4096);
  EXPECT_EQ(by_id->path, "renders/ab/cd.png");
  EXPECT_EQ(by_id->media_type, "image/png");
  EXPECT_EQ(store_->GetArtifactBySha256(png.sha256)->id, *id);
  EXPECT_EQ(store_->GetArtifact(*id + 100).status().code(), StatusCode::kNotFound);

  for (const char* bad_path :
       {"/etc/passwd", "../up.png", "a/../../b.png", "a//b.png", "", "./x"}) {
    NewArtifact escaping{Sha256Hex(bad_path), 1, bad_path, "image/png"};
    auto refused = store_->InsertArtifact(escaping);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad_path;
  }
  NewArtifact bad_hash{"ABC", 1, "x.png", "image/png"};
  EXPECT_EQ(store_->InsertArtifact(bad_hash).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace farm::store
