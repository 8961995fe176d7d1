// What farmctl watch/status make of farmd's sweep answer: the counts, and the running
// train jobs' step/total, loss, lr, s/step and ETA from their latest progress.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "progress_bar.h"
#include "sweep_counts.h"

namespace farmctl {
namespace {

nlohmann::json Sweep() {
  return {{"jobs_total", 4},
          {"jobs", {{"queued", 2}, {"leased", 2}, {"succeeded", 0}}},
          {"progress",
           {{{"job_id", 7}, {"stage", "train"}, {"step", 340}, {"total", 1600},
             {"message", "loss 0.12 lr 1e-04 1.9 s/step ETA 40m"}},
            {{"job_id", 9}, {"stage", "txt2img"}, {"step", 3}, {"total", 25}, {"message", ""}}}}};
}

TEST(SweepCountsTest, TrainProgressIsShownWithTheCounts) {
  const JobCounts counts = CountsOfSweep(Sweep());
  EXPECT_EQ(counts.running, 2);
  EXPECT_EQ(counts.training, "train job 7: step 340/1600, loss 0.12 lr 1e-04 1.9 s/step ETA 40m");
  const std::string line = CountsLine(counts);
  EXPECT_NE(line.find("2 running"), std::string::npos) << line;
  EXPECT_NE(line.find("| train job 7: step 340/1600, loss 0.12"), std::string::npos) << line;
}

TEST(SweepCountsTest, NoProgressNoTrainingText) {
  nlohmann::json sweep = Sweep();
  sweep.erase("progress");  // a farmd from before progress reports
  const JobCounts counts = CountsOfSweep(sweep);
  EXPECT_TRUE(counts.training.empty());
  EXPECT_EQ(CountsLine(counts).find('|'), std::string::npos);
}

TEST(SweepCountsTest, ASearchBetweenRungsIsNotFinished) {
  // Every job of rung 1 finished, the sweep still running: farmd adds rung 2 next.
  nlohmann::json sweep = {{"jobs_total", 4},
                          {"jobs", {{"succeeded", 4}}},
                          {"search", {{"done", false}, {"summary", "rung 1/3, cells 2"}}}};
  JobCounts counts = CountsOfSweep(sweep);
  EXPECT_TRUE(counts.search_pending);
  EXPECT_FALSE(counts.AllTerminal());
  EXPECT_EQ(counts.search, "rung 1/3, cells 2");
  sweep["search"]["done"] = true;
  counts = CountsOfSweep(sweep);
  EXPECT_FALSE(counts.search_pending);
  EXPECT_TRUE(counts.AllTerminal());
  sweep.erase("search");  // a sweep without search: finishes with its jobs
  EXPECT_TRUE(CountsOfSweep(sweep).AllTerminal());
}

}  // namespace
}  // namespace farmctl
