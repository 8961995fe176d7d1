// Failures that speak: `farmctl run` on the tiny model with one or two real agents, where a
// file the sweep names is bad. The pre-flight names a truncated LoRA, a missing checkpoint,
// a ControlNet of the wrong architecture and a photo that is not an image before anything
// starts; a LoRA whose header is fine but whose tensors are not fails on the agent, and that
// permanent failure ends the run with the agent's message; a transient failure on every
// agent (no face models for the detailer) ends it as stuck, with the reason, instead of
// waiting forever. Each run must exit 1 well inside the test's timeout.
// Skips when farm-agent was built without the render commands.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

// A run that cannot finish must end long before ctest's timeout for this test (180 s).
constexpr auto kMaxRunTime = std::chrono::seconds(90);

class FarmctlFailuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliRun help = Shell(kAgent + " --help 2>&1");
    if (help.out.find("make-tiny-model") == std::string::npos) {
      GTEST_SKIP() << "farm-agent was built without the render commands";
    }
    std::string pattern = ::testing::TempDir() + "farmctl_failures_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    models_ = dir_ + "/models";
    db_ = dir_ + "/state/farm.db";
    fs::create_directories(models_);
    const CliRun made =
        Shell(kAgent + " make-tiny-model " + Quote(models_ + "/tiny") + " --seed 1 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    // A PNG header is all the pre-flight reads of a photo; no score job decodes it.
    std::string png = "\x89PNG\r\n\x1a\n";
    png += std::string("\0\0\0\x0dIHDR\0\0\0\x40\0\0\0\x40\x08\x02\0\0\0", 21);
    std::ofstream(dir_ + "/me.png", std::ios::binary) << png;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  struct SpecFiles {
    std::string checkpoint = "models:/tiny/tiny-sd15.safetensors";
    std::string lora = "models:/tiny/tiny-lora.safetensors";
    std::string controlnet = "models:/tiny/tiny-controlnet.safetensors";
    std::string photos = "me.png";
    std::string pipeline;  // e.g. "face" (detailer + tone); empty: txt2img only
  };

  // Two renders with the LoRA and the pose ControlNet, no score jobs.
  std::string WriteSpec(const SpecFiles& files) const {
    const std::string path = dir_ + "/spec.yaml";
    std::ofstream(path) << "name: failures\n"
                           "identity: {name: demo, photos: " << files.photos
                        << ", token: sks person}\n"
                           "checkpoint: {path: " << files.checkpoint << "}\n"
                           "loras:\n  face: {path: " << files.lora << "}\n"
                           "render:\n"
                           "  prompt: \"photo of {token}, {pose}\"\n"
                           "  size: 64x64\n  steps: 2\n  cfg: 7\n  clip_skip: 1\n"
                           "  sampler: Euler\n  lora_weight: 0.8\n"
                           "  pose: head_and_shoulders\n"
                           "  pose_control: {path: " << files.controlnet << "}\n"
                           "  seeds: [1, 2]\n"
                        << (files.pipeline.empty()
                                ? ""
                                : "  tone: warm\npipeline: " + files.pipeline + "\n");
    return path;
  }

  // Runs farmctl and records how long it took.
  CliRun Farmctl(const std::string& args) {
    const auto start = std::chrono::steady_clock::now();
    CliRun run = Shell("STUDIOFARM_DB= STUDIOFARM_ENDPOINT= " + kFarmctl + " --models-dir " +
                       Quote(models_) + " --db " + Quote(db_) + " " + args + " 2>" +
                       Quote(dir_ + "/stderr.log"));
    took_ = std::chrono::steady_clock::now() - start;
    return run;
  }

  std::string Stderr() const {
    std::ifstream in(dir_ + "/stderr.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The pre-flight refused the spec: exit 1 naming the field and the file, nothing started.
  void ExpectRefusedBeforeStart(const CliRun& run, const std::string& field,
                                const std::string& file, const std::string& what) {
    EXPECT_EQ(run.exit_code, 1) << run.out << Stderr();
    const std::string err = Stderr();
    EXPECT_NE(err.find(field + ": " + file), std::string::npos) << err;
    EXPECT_NE(err.find(what), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(dir_ + "/state/logs")) << "a farm was started for a bad input";
    EXPECT_LT(took_, kMaxRunTime);
  }

  std::string dir_, models_, db_;
  std::chrono::steady_clock::duration took_{};
};

TEST_F(FarmctlFailuresTest, ATruncatedLoraIsNamedBeforeAnythingStarts) {
  const std::string full = models_ + "/tiny/tiny-lora.safetensors";
  const auto size = fs::file_size(full);
  fs::copy_file(full, models_ + "/cut-lora.safetensors");
  fs::resize_file(models_ + "/cut-lora.safetensors", size / 2);
  SpecFiles files;
  files.lora = "models:/cut-lora.safetensors";
  const CliRun run = Farmctl("run " + Quote(WriteSpec(files)) + " --agents 1");
  ExpectRefusedBeforeStart(run, "loras.face", models_ + "/cut-lora.safetensors", "truncated");
}

TEST_F(FarmctlFailuresTest, AMissingCheckpointIsNamedBeforeAnythingStarts) {
  SpecFiles files;
  files.checkpoint = "models:/tiny/no-such-checkpoint.safetensors";
  const CliRun run = Farmctl("run " + Quote(WriteSpec(files)) + " --agents 1");
  ExpectRefusedBeforeStart(run, "checkpoint", models_ + "/tiny/no-such-checkpoint.safetensors",
                           "no such file; expected an SD 1.5 checkpoint");
}

TEST_F(FarmctlFailuresTest, AControlNetOfTheWrongArchitectureIsNamedBeforeAnythingStarts) {
  SpecFiles files;
  files.controlnet = files.lora;  // a LoRA where the pose ControlNet belongs
  const CliRun run = Farmctl("run " + Quote(WriteSpec(files)) + " --agents 2");
  ExpectRefusedBeforeStart(run, "render.pose_control", models_ + "/tiny/tiny-lora.safetensors",
                           "not a ControlNet: expected keys under control_model.");
  EXPECT_NE(Stderr().find("found a kohya LoRA"), std::string::npos) << Stderr();
}

TEST_F(FarmctlFailuresTest, APhotoThatIsNotAnImageIsNamedBeforeAnythingStarts) {
  std::ofstream(dir_ + "/notes.jpg") << "a text file saved as .jpg\n";
  SpecFiles files;
  files.photos = "notes.jpg";
  const CliRun run = Farmctl("--json run " + Quote(WriteSpec(files)) + " --agents 1");
  EXPECT_EQ(run.exit_code, 1) << run.out << Stderr();
  const json out = ParseOrFail(run);
  EXPECT_EQ(out["error"].value("code", ""), "invalid_argument") << out.dump();
  const std::string message = out["error"].value("message", "");
  EXPECT_NE(message.find("identity.photos: " + dir_ + "/notes.jpg: not an image"),
            std::string::npos)
      << message;
  EXPECT_FALSE(fs::exists(dir_ + "/state/logs"));
  EXPECT_LT(took_, kMaxRunTime);
}

TEST_F(FarmctlFailuresTest, ALoraThatPassesTheHeaderCheckButFailsOnTheAgentEndsTheRunAtOnce) {
  // Same header, every tensor byte 0xff: F32 NaN. Only loading the tensors finds it.
  const std::string path = models_ + "/nan-lora.safetensors";
  fs::copy_file(models_ + "/tiny/tiny-lora.safetensors", path);
  std::uint64_t header = 0;
  {
    std::ifstream in(path, std::ios::binary);
    unsigned char raw[8];
    in.read(reinterpret_cast<char*>(raw), 8);
    for (int i = 7; i >= 0; --i) header = (header << 8) | raw[i];
  }
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 8 + header);
  {
    std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(8 + header));
    io << std::string(size - 8 - header, '\xff');
  }
  SpecFiles files;
  files.lora = "models:/nan-lora.safetensors";
  const std::string spec = WriteSpec(files);
  const CliRun validate = Farmctl("sweep validate " + Quote(spec));
  ASSERT_EQ(validate.exit_code, 0) << validate.out << Stderr();  // the pre-flight is passed

  const CliRun run = Farmctl("--json run " + Quote(spec) + " --agents 2");
  EXPECT_EQ(run.exit_code, 1) << run.out << Stderr();
  EXPECT_LT(took_, kMaxRunTime);
  const json out = ParseOrFail(run);
  EXPECT_FALSE(out.value("ok", true));
  EXPECT_EQ(out["counts"].value("failed", 0), 2) << out.dump(2);
  EXPECT_EQ(out["counts"].value("queued", -1), 0) << out.dump(2);
  ASSERT_FALSE(out["first_errors"].empty()) << out.dump(2);
  const std::string error = out["first_errors"][0].value("error", "");
  EXPECT_NE(error.find("NaN"), std::string::npos) << error;

  // Failed on the first agent that tried, not retried on the second.
  auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  farm::store::JobFilter filter;
  filter.sweep_id = out["sweep_id"].get<std::int64_t>();
  auto jobs = (*store)->ListJobs(filter);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  for (const farm::store::Job& job : *jobs) {
    EXPECT_EQ(job.state, farm::store::JobState::kFailed) << job.id;
    EXPECT_EQ(job.attempt_count, 1) << job.id << ": " << job.last_error;
  }
}

TEST_F(FarmctlFailuresTest, AJobEveryAgentFailedEndsTheRunWithTheReasonInsteadOfWaiting) {
  // The detailer needs face models this models folder lacks: the agent fails each render
  // with a transient error (another agent might have them), so the job waits for an agent
  // that has not failed it. With one agent there is none.
  SpecFiles files;
  files.pipeline = "face";
  const CliRun run = Farmctl("run " + Quote(WriteSpec(files)) + " --agents 1");
  EXPECT_EQ(run.exit_code, 1) << run.out << Stderr();
  EXPECT_LT(took_, kMaxRunTime);
  const std::string err = Stderr();
  EXPECT_NE(err.find("CANNOT FINISH"), std::string::npos) << err;
  EXPECT_NE(err.find("2 queued (2 cannot run)"), std::string::npos) << err;
  EXPECT_NE(err.find("2 jobs cannot run (first: job"), std::string::npos) << err;
  EXPECT_NE(err.find("failed on every online agent (local-1): not_found: detailer: "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("the sweep was cancelled"), std::string::npos) << err;
}

}  // namespace
