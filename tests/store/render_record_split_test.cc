// The split of a canonical render record into shared and own parts
// (0014_render_settings.sql): joining the parts gives the record back byte for byte, for
// every record the splitter accepts, whether it scanned it or matched a layout.
#include "render_record_split.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using testing_util::SampleRender;

std::string Canonical(const RenderParams& params) { return ToCanonicalJson(params).value(); }

// Splits and joins `record`; returns the shared part ("" when kept whole).
std::string RoundTrip(RecordSplitter& splitter, const std::string& record) {
  std::string own;
  const RecordSplitter::Split split = splitter.SplitRecord(record, &own);
  if (split.shared == nullptr) return "";
  auto joined = JoinRenderRecord(*split.shared, own);
  if (!joined.ok()) {
    ADD_FAILURE() << joined.status().ToString();
    return "";
  }
  EXPECT_EQ(*joined, record);
  return *split.shared;
}

TEST(RenderRecordSplit, OwnMembersAreTheGridAxesAndTheRestIsShared) {
  RecordSplitter splitter;
  const RenderParams params = SampleRender(7);
  std::string own;
  const RecordSplitter::Split split = splitter.SplitRecord(Canonical(params), &own);
  ASSERT_NE(split.shared, nullptr);
  std::vector<JsonMember> members;
  ASSERT_TRUE(ScanJsonMembers(own, &members));
  std::vector<std::string> keys;
  for (const JsonMember& member : members) keys.emplace_back(member.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"cfg", "clip_skip", "denoise", "height", "sampler",
                                            "scheduler", "seed", "steps", "width"}));
  EXPECT_NE(split.shared->find("\"prompt\":"), std::string::npos);
  EXPECT_NE(split.shared->find("\"pose\":"), std::string::npos);
  EXPECT_EQ(split.shared->find("\"seed\":"), std::string::npos);
  EXPECT_EQ(*split.settings_id, 0);
}

TEST(RenderRecordSplit, RecordsOfOneCellShareTheirSettingsAndJoinBackExactly) {
  RecordSplitter splitter;
  RenderParams params = SampleRender(1);
  const std::string first = RoundTrip(splitter, Canonical(params));
  ASSERT_FALSE(first.empty());
  // Other seeds, samplers, CFG and sizes: the same layout, matched without a scan.
  for (int i = 0; i < 20; ++i) {
    params.seed = 1000 + 7919ULL * static_cast<std::uint64_t>(i);
    params.sampler = i % 2 ? "DPM++ 2M" : "Euler a";
    params.cfg = 3.5 + 0.25 * i;
    params.steps = 10 + i;
    params.width = 512 + 64 * (i % 3);
    EXPECT_EQ(RoundTrip(splitter, Canonical(params)), first) << i;
  }
  // The slot for the settings row's id belongs to the shared part.
  std::string own;
  *splitter.SplitRecord(Canonical(params), &own).settings_id = 42;
  params.seed = 5;
  EXPECT_EQ(*splitter.SplitRecord(Canonical(params), &own).settings_id, 42);
}

TEST(RenderRecordSplit, AnotherPromptOrPoseIsAnotherSharedPart) {
  RecordSplitter splitter;
  RenderParams params = SampleRender(1);
  const std::string first = RoundTrip(splitter, Canonical(params));
  params.prompt = "a longer prompt, with \"quotes\", a backslash \\ and a newline\n";
  const std::string second = RoundTrip(splitter, Canonical(params));
  EXPECT_NE(second, first);
  params.pose = "frontal";
  const std::string third = RoundTrip(splitter, Canonical(params));
  EXPECT_NE(third, second);
  // Back to the first: its layout is still known, and gives the same shared part.
  EXPECT_EQ(RoundTrip(splitter, Canonical(SampleRender(1))), first);
}

TEST(RenderRecordSplit, StringsThatLookLikeMembersDoNotConfuseIt) {
  RecordSplitter splitter;
  RenderParams params = SampleRender(2);
  params.prompt = "\",\"seed\":1,\"x\":{\"steps\":[}";
  params.sampler = "Euler \"a\", {b}";
  params.stages.push_back({"img2img", {{"steps", std::int64_t{12}}, {"denoise", 0.4}}});
  RoundTrip(splitter, Canonical(params));
  params.seed = 99;
  params.sampler = "x,}";
  RoundTrip(splitter, Canonical(params));
}

TEST(RenderRecordSplit, RecordsItCannotSplitAreKeptWhole) {
  RecordSplitter splitter;
  std::string own;
  // No own member; not an object; keys out of order; a nested own value; truncated.
  for (const std::string& record :
       {std::string(R"({"prompt":"x"})"), std::string("[1,2]"),
        std::string(R"({"seed":1,"cfg":2})"), std::string(R"({"seed":{"a":1}})"),
        std::string(R"({"seed":1)"), std::string("{}"), std::string("")}) {
    EXPECT_EQ(splitter.SplitRecord(record, &own).shared, nullptr) << record;
  }
  // A null own member stays shared (json_patch would read it as a deletion).
  const std::string with_null = R"({"cfg":7,"seed":null})";
  const RecordSplitter::Split split = splitter.SplitRecord(with_null, &own);
  ASSERT_NE(split.shared, nullptr);
  EXPECT_EQ(*split.shared, R"({"seed":null})");
  EXPECT_EQ(own, R"({"cfg":7})");
}

TEST(RenderRecordSplit, JoinRefusesPartsThatAreNotObjectsOrOverlap) {
  EXPECT_EQ(JoinRenderRecord(R"({"a":1})", "nope").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(JoinRenderRecord("{", R"({"a":1})").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(JoinRenderRecord(R"({"a":1})", R"({"a":2})").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(JoinRenderRecord(R"({"a":1,"c":3})", R"({"b":2,"d":4})").value(),
            R"({"a":1,"b":2,"c":3,"d":4})");
}

TEST(RenderRecordSplit, FingerprintIsStable) {
  // Stored in render_settings: it must not change between builds or machines.
  EXPECT_EQ(SettingsFingerprint(""), static_cast<std::int64_t>(0xcbf29ce484222325ULL));
  EXPECT_EQ(SettingsFingerprint("a"), static_cast<std::int64_t>(0xaf63dc4c8601ec8cULL));
  EXPECT_NE(SettingsFingerprint(R"({"prompt":"a"})"), SettingsFingerprint(R"({"prompt":"b"})"));
}

}  // namespace
}  // namespace farm::store
