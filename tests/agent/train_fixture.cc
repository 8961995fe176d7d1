#include "train_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "faceid_paths.h"
#include "shell_run.h"

namespace farm::agent::testing {

std::optional<TrainFixture> MakeTrainFixture(const std::string& agent, const std::string& dir, int photos,
                                             std::string* why) {
  using farmctl_test::Quote;
  using farmctl_test::Shell;
  auto models = faceid::testing::FindFaceModelDir();
  auto demo = faceid::testing::FindFaceDemoDir();
  if (!models || !demo) {
    *why = "face-api models or demo photos not found (set STUDIOFARM_MODELS)";
    return std::nullopt;
  }
  TrainFixture f;
  f.dir = dir;
  std::filesystem::create_directories(dir + "/models");
  auto tiny = Shell(agent + " make-tiny-model " + Quote(dir + "/models/sd") + " --json");
  if (tiny.exit_code != 0) {
    ADD_FAILURE() << tiny.out;
    return std::nullopt;
  }
  f.checkpoint = farmctl_test::ParseOrFail(tiny)["checkpoint"].get<std::string>();
  f.checkpoint_sha256 = Shell("sha256sum " + Quote(f.checkpoint) + " | cut -c1-64").out.substr(0, 64);
  std::string list;
  for (int i = 1; i <= photos; ++i) list += " " + Quote(*demo + "/sample" + std::to_string(i) + ".jpg");
  auto prepared = Shell(agent + " prepare --identity demo --photos" + list + " --out " + Quote(dir + "/datasets") +
                        " --resolution 64 --pick largest --face-models " + Quote(*models) + " --json 2>/dev/null");
  if (prepared.exit_code != 0) {
    ADD_FAILURE() << prepared.out;
    return std::nullopt;
  }
  f.dataset = farmctl_test::ParseOrFail(prepared)["folder"].get<std::string>();
  return f;
}

}  // namespace farm::agent::testing
