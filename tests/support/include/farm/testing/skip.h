// How a test says it cannot run here. Every suite's main (tests/support/farm_test_main.cc)
// reports skips with their reasons; with CI=true any skip fails the run except one whose
// reason starts with kGpuSkipPrefix: the CI machine has no GPU, but it has everything
// set-up installs (reference data, face models, programs), so those skips would hide
// suites that never ran.
#pragma once

#include <string_view>

namespace farm::testing {

// ctest's SKIP_RETURN_CODE for every farm_test: the suite ran nothing but skips.
inline constexpr int kSkipExitCode = 77;

inline constexpr std::string_view kGpuSkipPrefix = "needs a GPU";
// A kernel (or a sandbox without CAP_SYS_ADMIN) that refuses network namespaces: no set-up
// script can give a machine that, so CI allows it too (tests/netns).
inline constexpr std::string_view kNetnsSkipPrefix = "needs network namespaces";

}  // namespace farm::testing

// Skips the current test on a machine without a CUDA device (allowed under CI).
#define FARM_SKIP_WITHOUT_GPU(has_gpu) \
  if (!(has_gpu)) GTEST_SKIP() << ::farm::testing::kGpuSkipPrefix << " (no CUDA device here)"
