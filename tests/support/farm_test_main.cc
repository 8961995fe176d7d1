// The main() of every GoogleTest suite of the project (farm_test links it instead of
// gtest_main), so that a skipped test is never mistaken for a passed one:
// - every skip is printed with its reason, and appended to $FARM_SKIP_LOG when set (the CI
//   script lists them all at the end of a run);
// - a suite in which every test that ran was skipped exits 77, which ctest reports as
//   "Skipped" (SKIP_RETURN_CODE) instead of "Passed";
// - with CI=true a skip is a failure, unless its reason says the machine lacks a GPU
//   (kGpuSkipPrefix, see farm/testing/skip.h) or that its kernel refuses network namespaces
//   (kNetnsSkipPrefix): set-up provides everything else.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "farm/testing/skip.h"

namespace {

struct Skip {
  std::string test;
  std::string reason;
};

// gtest stores "Skipped\n<reason>" for GTEST_SKIP() << reason; keep the reason.
std::string SkipReason(const testing::TestResult& result) {
  for (int i = 0; i < result.total_part_count(); ++i) {
    const testing::TestPartResult& part = result.GetTestPartResult(i);
    if (!part.skipped()) continue;
    std::string message = part.message();
    constexpr std::string_view kPrefix = "Skipped\n";
    if (message.starts_with(kPrefix)) message.erase(0, kPrefix.size());
    if (message == "Skipped") message.clear();
    return message;
  }
  return {};
}

class SkipCollector : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& info) override {
    const testing::TestResult& result = *info.result();
    const std::string name = std::string(info.test_suite_name()) + "." + info.name();
    if (!result.Skipped()) {
      ++ran_;
      return;
    }
    std::string reason = SkipReason(result);
    if (reason.empty()) reason = suite_reason_;
    skips_.push_back({name, reason.empty() ? "(no reason given)" : reason});
  }
  void OnTestStart(const testing::TestInfo&) override {
    // A skip in SetUpTestSuite (which runs before the suite's first test starts) is
    // recorded on the suite, not on each test.
    const testing::TestSuite* suite = testing::UnitTest::GetInstance()->current_test_suite();
    suite_reason_ = suite != nullptr ? SkipReason(suite->ad_hoc_test_result()) : std::string();
  }

  int ran() const { return ran_; }
  const std::vector<Skip>& skips() const { return skips_; }

 private:
  int ran_ = 0;
  std::string suite_reason_;
  std::vector<Skip> skips_;
};

bool UnderCi() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  const std::string_view value = ci;
  return value == "true" || value == "1" || value == "yes";
}

void AppendToSkipLog(const std::string& program, const std::vector<Skip>& skips) {
  const char* path = std::getenv("FARM_SKIP_LOG");
  if (path == nullptr || *path == '\0' || skips.empty()) return;
  std::ofstream log(path, std::ios::app);
  for (const Skip& skip : skips) log << program << ": " << skip.test << ": " << skip.reason << "\n";
}

std::string ProgramName(const char* argv0) {
  const std::string_view path = argv0;
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto* collector = new SkipCollector;  // owned by gtest's listener list
  testing::UnitTest::GetInstance()->listeners().Append(collector);
  const int status = RUN_ALL_TESTS();

  const std::string program = ProgramName(argv[0]);
  const std::vector<Skip>& skips = collector->skips();
  for (const Skip& skip : skips) {
    std::cout << "[  SKIP    ] " << skip.test << ": " << skip.reason << "\n";
  }
  AppendToSkipLog(program, skips);
  if (status != 0) return status;

  if (UnderCi()) {
    int forbidden = 0;
    for (const Skip& skip : skips) {
      if (skip.reason.starts_with(farm::testing::kGpuSkipPrefix) ||
          skip.reason.starts_with(farm::testing::kNetnsSkipPrefix)) {
        continue;
      }
      std::cout << "error: " << skip.test << " was skipped under CI (" << skip.reason
                << "): set-up should provide what it needs\n";
      ++forbidden;
    }
    if (forbidden > 0) return 1;
  }
  if (!skips.empty() && collector->ran() == 0) return farm::testing::kSkipExitCode;
  return 0;
}
