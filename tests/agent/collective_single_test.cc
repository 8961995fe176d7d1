// farm_collective without a launcher: the Single backend, the argument checks every
// backend shares, the counters, launcher detection and the factory's choices. The MPI
// backend runs under mpirun in the collective_mpi test (farm-collective-check).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "farm/agent/collective.h"
#include "farm/agent/single_collective.h"

namespace farm::agent {
namespace {

LaunchEnvironment EnvOf(std::map<std::string, std::string> vars) {
  return LaunchEnvironment::FromLookup([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(SingleCollective, IsAWorldOfOne) {
  SingleCollective single;
  EXPECT_EQ(single.rank(), 0);
  EXPECT_EQ(single.world_size(), 1);
  EXPECT_EQ(single.backend(), "single");
  EXPECT_FALSE(single.cuda_device().has_value());
}

TEST(SingleCollective, AllReduceMeanKeepsTheDataAndCountsOneCollective) {
  SingleCollective single;
  at::Tensor flat = at::arange(1001, at::kFloat).mul_(0.37);
  const at::Tensor before = flat.clone();
  ASSERT_TRUE(single.AllReduceMean(flat).ok());
  EXPECT_TRUE(at::equal(flat, before));
  EXPECT_EQ(single.counters().all_reduces, 1u);
  EXPECT_EQ(single.counters().bytes_all_reduced, 1001u * 4);
  EXPECT_EQ(single.counters().total(), 1u);
}

TEST(SingleCollective, BroadcastGatherAndBarrier) {
  SingleCollective single;
  at::Tensor weights = at::ones({3, 5}, at::kLong);
  ASSERT_TRUE(single.Broadcast(weights, 0).ok());
  EXPECT_TRUE(at::equal(weights, at::ones({3, 5}, at::kLong)));
  auto values = single.AllGatherU64(0xDEADBEEFull);
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(*values, std::vector<uint64_t>{0xDEADBEEFull});
  ASSERT_TRUE(single.Barrier().ok());
  const CollectiveCounters& counters = single.counters();
  EXPECT_EQ(counters.broadcasts, 1u);
  EXPECT_EQ(counters.bytes_broadcast, 15u * 8);
  EXPECT_EQ(counters.all_gathers, 1u);
  EXPECT_EQ(counters.barriers, 1u);
  EXPECT_EQ(counters.all_reduces, 0u);
}

// A Status that is InvalidArgument and names what was wrong.
void ExpectRejected(const Status& status, const std::string& needle) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.ToString();
}

TEST(SingleCollective, RefusesBadTensorsWithoutCountingThem) {
  SingleCollective single;
  at::Tensor matrix = at::zeros({4, 3}, at::kFloat);
  ExpectRejected(single.AllReduceMean(matrix.t()), "contiguous");
  ExpectRejected(single.AllReduceMean(at::zeros({8}, at::kFloat).slice(0, 0, 8, 2)), "contiguous");
  ExpectRejected(single.AllReduceMean(at::zeros({8}, at::kDouble)), "float32");
  ExpectRejected(single.AllReduceMean(at::zeros({8}, at::kInt)), "float32");
  ExpectRejected(single.AllReduceMean(at::Tensor()), "undefined");
  ExpectRejected(single.Broadcast(matrix.t(), 0), "contiguous");
  ExpectRejected(single.Broadcast(matrix, 1), "root 1");
  ExpectRejected(single.Broadcast(matrix, -1), "root -1");
  EXPECT_EQ(single.counters().total(), 0u);
  EXPECT_EQ(single.counters().bytes_all_reduced, 0u);
}

TEST(SingleCollective, ErrorsSayWhereAndWhatWasGiven) {
  SingleCollective single;
  const Status status = single.AllReduceMean(at::zeros({2, 3}, at::kDouble));
  EXPECT_NE(status.message().find("single all-reduce (rank 0)"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("Double"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("[2, 3]"), std::string::npos) << status.message();
}

TEST(LaunchEnvironment, EachLauncherVariableCounts) {
  EXPECT_FALSE(EnvOf({}).under_mpi_launcher);
  EXPECT_FALSE(EnvOf({{"OMPI_COMM_WORLD_SIZE", ""}}).under_mpi_launcher);
  EXPECT_FALSE(EnvOf({{"SLURM_JOB_ID", "12"}}).under_mpi_launcher);
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    const LaunchEnvironment env = EnvOf({{name, "2"}});
    EXPECT_TRUE(env.under_mpi_launcher) << name;
    EXPECT_EQ(env.launcher_variable, name);
  }
}

TEST(MakeCollective, AutoWithoutALauncherIsSingle) {
  auto made = MakeCollective("auto", EnvOf({}));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->backend(), "single");
  EXPECT_EQ((*made)->world_size(), 1);
}

TEST(MakeCollective, SingleByName) {
  auto made = MakeCollective("single", EnvOf({{"OMPI_COMM_WORLD_SIZE", "2"}}));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)->backend(), "single");
}

TEST(MakeCollective, UnknownBackendListsTheChoices) {
  auto made = MakeCollective("gloo", EnvOf({}));
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find("\"gloo\""), std::string::npos);
  EXPECT_NE(made.status().message().find("auto, mpi, nccl or single"), std::string::npos);
}

// A CPU build says why there is no NCCL; a CUDA build with NCCL either makes a world of one
// on a visible GPU or says that none is visible.
TEST(MakeCollective, NcclIsBuiltOrSaysWhyNot) {
  auto made = MakeCollective("nccl", EnvOf({}));
  if (!NcclBackendBuilt()) {
    ASSERT_FALSE(made.ok());
    EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(made.status().message().find("FARM_WITH_NCCL"), std::string::npos)
        << made.status().message();
  } else if (made.ok()) {
    EXPECT_EQ((*made)->backend(), "nccl");
    EXPECT_TRUE((*made)->cuda_device().has_value());
  } else {
    EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(made.status().message().find("no CUDA device"), std::string::npos)
        << made.status().message();
  }
}

}  // namespace
}  // namespace farm::agent
