// farmd's dashboard in headless Chromium, driven over the DevTools protocol
// (dashboard_check.mjs beside this file, on tools/browser/cdp.mjs). The test starts the real farmd (token
// set, loopback, no CURVE) on a database that already holds one scored sweep of six
// renders with PNG images (written through the Store, as farmd would after rendering),
// and one real farm-agent. The script then submits a synthetic sweep and asserts what the
// page shows: progress counts moving to done, the agent's slots, the gallery and its
// filter (six renders, two with cfg >= 8.5), a bad filter's caret message, a render's
// detail page with its stage image, the priority and cancel actions, and 401 for data
// requests without the token.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kToken[] = "dashboard-token-123";

std::uint32_t Crc32(const std::string& bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void Chunk(std::string& png, const std::string& type, const std::string& data) {
  PutU32(png, static_cast<std::uint32_t>(data.size()));
  const std::string body = type + data;
  png += body;
  PutU32(png, Crc32(body));
}

// A solid RGB PNG (stored deflate blocks: no zlib needed), so each render has a real image.
std::string SolidPng(int width, int height, std::array<unsigned char, 3> rgb) {
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < width; ++x) {
      // A lighter band in the middle so a screenshot shows more than a flat colour.
      const bool band = y > height / 3 && y < 2 * height / 3;
      for (unsigned char c : rgb) raw += static_cast<char>(band ? c / 2 + 128 : c);
    }
  }
  std::string zlib = "\x78\x01";
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    zlib += static_cast<char>(last ? 1 : 0);
    zlib += static_cast<char>(n & 0xff);
    zlib += static_cast<char>(n >> 8);
    zlib += static_cast<char>(~n & 0xff);
    zlib += static_cast<char>((~n >> 8) & 0xff);
    zlib += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  PutU32(zlib, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  PutU32(header, static_cast<std::uint32_t>(width));
  PutU32(header, static_cast<std::uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  Chunk(png, "IHDR", header);
  Chunk(png, "IDAT", zlib);
  Chunk(png, "IEND", "");
  return png;
}

class DashboardBrowserTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("dashboard_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state" / "artifacts");
    fs::create_directories(dir_ / "photos");
    std::ofstream(dir_ / "photos" / "a.jpg") << "not really a photo";
    // The live sweep the page watches: eight synthetic stand-ins.
    std::ofstream(dir_ / "live.yaml")
        << "name: live\n"
           "identity:\n  name: t\n  photos: \"photos/*.jpg\"\n  token: sks person\n"
           "checkpoint:\n  path: none.safetensors\n"
           "  sha256: 9e194ae96bc93e7bbd668c1782ac0a1c7db5b2a0a0789512c12a0cba330d20bc\n"
           "render:\n  prompt: \"photo of {token}\"\n  size: 64x64\n  steps: 4\n"
           "  cfg: 7\n  sampler: Euler\n  seeds: [1, 2, 3, 4, 5, 6, 7, 8]\n";
  }

  void TearDown() override {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
      ::kill(*it, SIGTERM);
      int status = 0;
      ::waitpid(*it, &status, 0);
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Log(const std::string& name) const {
    return "\n--- " + name + " ---\n" + farmctl_test::FileBytes((dir_ / name).string());
  }

  // One finished sweep of six scored renders with images; one render keeps a stage image.
  void WriteScoredSweep() {
    auto store = farm::store::Store::Open((dir_ / "state" / "farm.db").string(),
                                          farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    farm::store::Store& db = **store;
    farm::store::NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    auto identity = db.CreateIdentity(ana);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();

    const std::vector<double> cfgs = {5, 6, 7, 8, 9, 10};
    const std::vector<double> scores = {0.41, 0.52, 0.63, 0.58, 0.71, 0.66};
    farm::store::NewSweep sweep;
    sweep.name = "portraits";
    sweep.spec_yaml = "name: portraits\n";
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
      farm::store::NewJob render;
      render.kind = farm::store::JobKind::kRender;
      farm::RenderParams p;
      p.prompt = "studio portrait of sks person";
      p.seed = 100 + i;
      p.sampler = i % 2 == 0 ? "Euler a" : "DPM++ 2M";
      p.scheduler = i % 2 == 0 ? "normal" : "karras";
      p.cfg = cfgs[i];
      p.pose = i < 3 ? "front" : "three_quarter_left";
      p.tone = i % 2 == 0 ? "warm" : "cool";
      p.checkpoint_sha256 = farm::Sha256Hex("checkpoint");
      render.render = p;
      sweep.jobs.push_back(render);
      farm::store::NewJob score;
      score.kind = farm::store::JobKind::kScore;
      score.params_json = "{\"score\":" + std::to_string(i) + "}";
      score.param_hash = farm::Sha256Hex(score.params_json);
      score.deps = {sweep.jobs.size() - 1};
      sweep.jobs.push_back(score);
    }
    auto created = db.CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
      const std::int64_t render_job = created->jobs.job_ids[2 * i];
      const std::int64_t score_job = created->jobs.job_ids[2 * i + 1];
      const std::int64_t render_id = created->jobs.render_ids[2 * i];
      const std::array<unsigned char, 3> colour = {static_cast<unsigned char>(40 * i + 30),
                                                   static_cast<unsigned char>(200 - 25 * i), 160};
      const std::int64_t image = StoreImage(db, SolidPng(64, 96, colour));
      farm::store::RenderResultUpdate update;
      update.job_id = render_job;
      update.artifact_id = image;
      update.image_sha256 = farm::Sha256Hex(SolidPng(64, 96, colour));
      update.agent_id = "agent-fixture";
      update.agent_version = "test";
      update.seconds = 1.5 + static_cast<double>(i);
      ASSERT_TRUE(db.RecordRenderResult(update).ok());
      ASSERT_TRUE(db.SetRenderArtifact(render_id, image).ok());
      farm::store::NewScore score;
      score.render_id = render_id;
      score.identity_id = *identity;
      score.job_id = score_job;
      score.metric = "cosine";
      score.model_version = "face-model-test";
      score.similarity = scores[i];
      score.faces_found = 1;
      auto scored = db.InsertScores({score});
      ASSERT_TRUE(scored.ok()) << scored.status().ToString();
      if (i == 0) {
        ASSERT_TRUE(db.SetRenderStageImage(render_id, "txt2img",
                                           StoreImage(db, SolidPng(32, 48, {250, 200, 40})))
                        .ok());
      }
      ASSERT_TRUE(db.SetJobState(render_job, farm::store::JobState::kSucceeded).ok());
      ASSERT_TRUE(db.SetJobState(score_job, farm::store::JobState::kSucceeded).ok());
    }
    ASSERT_TRUE(db.SetSweepState(created->sweep_id, farm::store::SweepState::kSucceeded).ok());
    scored_sweep_ = created->sweep_id;
  }

  std::int64_t StoreImage(farm::store::Store& db, const std::string& png) {
    farm::store::NewArtifact artifact;
    artifact.sha256 = farm::Sha256Hex(png);
    artifact.size = static_cast<std::int64_t>(png.size());
    artifact.path = artifact.sha256.substr(0, 2) + "/" + artifact.sha256.substr(2, 2) + "/" + artifact.sha256;
    artifact.media_type = "image/png";
    fs::create_directories((dir_ / "state" / "artifacts" / artifact.path).parent_path());
    std::ofstream(dir_ / "state" / "artifacts" / artifact.path, std::ios::binary) << png;
    auto id = db.InsertArtifact(artifact);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  bool StartFarm() {
    std::vector<std::string> args = {FARMD_PATH,        "--no-curve",
                                     "--db",            (dir_ / "state" / "farm.db").string(),
                                     "--artifacts",     (dir_ / "state" / "artifacts").string(),
                                     "--listen-agents", "tcp://127.0.0.1:0",
                                     "--listen-http",   "127.0.0.1:0",
                                     "--token",         kToken,
                                     "--spec-dir",      dir_.string()};
    int fds[2];
    if (::pipe(fds) != 0) return false;
    const pid_t pid = farmctl_test::SpawnWithLog(args, fds[1], (dir_ / "farmd.log").string());
    ::close(fds[1]);
    if (pid > 0) children_.push_back(pid);
    std::string line;
    char ch;
    while (pid > 0 && ::read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(fds[0]);
    ready_ = json::parse(line, nullptr, false);
    if (!ready_.is_object() || !ready_.contains("http")) {
      ADD_FAILURE() << "farmd did not report ready: '" << line << "'" << Log("farmd.log");
      return false;
    }
    const pid_t agent = farmctl_test::SpawnWithLog(
        {FARM_AGENT_PATH, "--connect", ready_.value("agent_endpoint", ""), "--id", "agent-1",
         "--slots", "2", "--shutdown-grace-ms", "0"},
        -1, (dir_ / "agent-1.log").string());
    if (agent <= 0) {
      ADD_FAILURE() << "cannot start " << FARM_AGENT_PATH;
      return false;
    }
    children_.push_back(agent);
    return true;
  }

  fs::path dir_;
  std::vector<pid_t> children_;
  json ready_;
  std::int64_t scored_sweep_ = 0;
};

TEST_F(DashboardBrowserTest, PageShowsProgressAgentsGalleryFilterAndDetail) {
  const char* chromium_env = std::getenv("CHROMIUM");
  bool has_chromium = chromium_env != nullptr && ::access(chromium_env, X_OK) == 0;
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    has_chromium = has_chromium || ::access(path, X_OK) == 0;
  }
  if (!has_chromium) GTEST_SKIP() << "chromium is not installed (tools/setup.sh installs it)";
  if (farmctl_test::Shell("node --version >/dev/null 2>&1").exit_code != 0) {
    GTEST_SKIP() << "node is not installed (the DevTools client runs on Node 20)";
  }
  ASSERT_NO_FATAL_FAILURE(WriteScoredSweep());
  ASSERT_TRUE(StartFarm());

  const json expect = {{"scored_sweep", scored_sweep_},
                       {"renders", 6},
                       {"filter", "cfg >= 8.5"},
                       {"filtered", 2},
                       {"bad_filter", "cfgg >= 8.5"},
                       {"agent", "agent-1"},
                       {"live_spec", farmctl_test::FileBytes((dir_ / "live.yaml").string())},
                       {"live_jobs", 8}};
  std::ofstream(dir_ / "expect.json") << expect.dump();
  const std::string shots = (dir_ / "shots").string();
  const farmctl_test::CliRun run = farmctl_test::Shell(
      // Node 20 has a WebSocket behind this flag; cdp.mjs talks over a pipe without it.
      "node $(node --experimental-websocket -e 0 >/dev/null 2>&1 && echo --experimental-websocket) "
      "--no-warnings " FARM_SOURCE_DIR
      "/tests/farmd/dashboard_check.mjs --url http://" + ready_.value("http", "") +
      " --token " + kToken + " --expect " + farmctl_test::Quote((dir_ / "expect.json").string()) +
      " --out " + farmctl_test::Quote(shots) + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.out << Log("farmd.log") << Log("agent-1.log");
  std::cout << run.out;  // the checks that passed, with the progress the page showed
  for (const char* shot : {"sweeps.png", "gallery.png", "render.png"}) {
    EXPECT_GT(fs::exists(fs::path(shots) / shot) ? fs::file_size(fs::path(shots) / shot) : 0, 1000u)
        << shot << "\n" << run.out;
  }
  // Keep the screenshots where a person can look at them.
  if (const char* keep = std::getenv("FARM_DASHBOARD_SHOTS")) {
    std::error_code ec;
    fs::create_directories(keep, ec);
    fs::copy(shots, keep, fs::copy_options::overwrite_existing | fs::copy_options::recursive, ec);
  }
}

}  // namespace
