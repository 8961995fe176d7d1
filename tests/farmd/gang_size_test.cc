// A train job's stored record decides its gang size and required checkpoint (submit and
// recovery both read them from the row).
#include <gtest/gtest.h>

#include "gang_size.h"
#include "required_models.h"

namespace farm::farmd {
namespace {

store::Job Row(store::JobKind kind, const std::string& params) {
  store::Job job;
  job.kind = kind;
  job.params_json = params;
  return job;
}

TEST(GangSizeTest, TrainJobsLeaseTheirRanksOthersOneSlot) {
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"kind":"train","ranks":4,"checkpoint":"ab"})")), 4);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"kind":"train","checkpoint":"ab"})")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, "not json")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"ranks":0})")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kRender, R"({"ranks":4})")), 1);
  EXPECT_EQ(RequiredModels(Row(store::JobKind::kTrain, R"({"ranks":2,"checkpoint":"ab12"})")),
            std::vector<std::string>{"ab12"});
  EXPECT_TRUE(RequiredModels(Row(store::JobKind::kTrain, R"({"checkpoint":""})")).empty());
}

}  // namespace
}  // namespace farm::farmd
