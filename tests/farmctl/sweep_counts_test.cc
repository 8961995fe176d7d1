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

}  // namespace
}  // namespace farmctl
