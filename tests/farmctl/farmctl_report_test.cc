// farmctl report on a sweep built through the store with real PNG artifacts: the HTML is
// one self-contained file (no http(s) source, images as data: URIs of real downscaled
// JPEGs from `farm-agent thumbnails`), its plots and contact sheet hold what the sweep
// holds, large sweeps are capped, and headless Chromium (tools/browser/check_page.mjs)
// renders every plot and thumbnail without a console error and takes a screenshot.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "report_effects.h"
#include "report_svg.h"
#include "report_thumbs.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::FileBytes;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;
const std::string kChecker = std::string(FARM_SOURCE_DIR) + "/tools/browser/check_page.mjs";

// ---- a minimal PNG encoder (stored deflate blocks), so the test needs no image library ----
std::uint32_t Crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
void Put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}
void Chunk(std::string& png, const char* type, const std::string& data) {
  Put32(png, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  png += body;
  Put32(png, Crc32(body));
}
// An RGB image whose colours depend on `tint`, so each render's picture differs.
std::string Png(int width, int height, int tint) {
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < width; ++x) {
      const bool face = (x - width / 2) * (x - width / 2) + (y - height / 3) * (y - height / 3) < width * width / 10;
      raw += static_cast<char>(face ? 230 : (x * 255 / width + tint * 37) % 256);
      raw += static_cast<char>(face ? 190 : (y * 255 / height + tint * 11) % 256);
      raw += static_cast<char>(face ? 160 : (tint * 53) % 256);
    }
  }
  std::string zlib = "\x78\x01";
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  for (std::size_t pos = 0; pos < raw.size() || pos == 0; pos += 65535) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    zlib += static_cast<char>(pos + n >= raw.size() ? 1 : 0);
    zlib += static_cast<char>(n & 0xFF);
    zlib += static_cast<char>(n >> 8);
    zlib += static_cast<char>(~n & 0xFF);
    zlib += static_cast<char>((~n >> 8) & 0xFF);
    zlib += raw.substr(pos, n);
  }
  Put32(zlib, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  Put32(header, width);
  Put32(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  Chunk(png, "IHDR", header);
  Chunk(png, "IDAT", zlib);
  Chunk(png, "IEND", "");
  return png;
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

bool HaveBrowser() {
  return Shell("command -v node >/dev/null 2>&1 && test -x /usr/bin/chromium -o -n \"$CHROMIUM\"").exit_code == 0;
}

class FarmctlReportTest : public ::testing::Test {
 protected:
  static constexpr int kWidth = 96, kHeight = 144;
  static constexpr std::array<const char*, 2> kSamplers{"Euler a", "DPM++ 2M"};
  static constexpr std::array<double, 3> kCfgs{4, 7, 10};
  static constexpr std::array<const char*, 3> kPoses{"front", "three-quarter", "profile"};
  static constexpr std::array<const char*, 2> kTones{"warm", "cool"};

  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_report_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    fs::create_directories(dir_ + "/artifacts/images");
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // 36 renders (sampler x cfg x pose x tone), LoRA checkpoints at 800 and 1600 steps. Score
  // = 0.3 + 0.03 cfg (+0.05 for Euler a, +0.02 at 1600 steps); every profile render with a
  // warm tone finds no face; render 0 is never rendered, render 2's file is lost.
  void BuildSweep(bool scored) {
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    farm::store::NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    auto identity = (*store)->CreateIdentity(ana);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    const std::string train_hash = farm::Sha256Hex("train");
    farm::store::NewSweep sweep{"report-fixture", "name: report-fixture\n", 0, {}};
    for (const char* sampler : kSamplers) {
      for (double cfg : kCfgs) {
        for (const char* pose : kPoses) {
          for (const char* tone : kTones) {
            const int i = static_cast<int>(params_.size());
            farm::RenderParams p;
            p.prompt = "studio portrait of sks person";
            p.seed = 1000 + i;
            p.sampler = sampler;
            p.scheduler = "karras";
            p.cfg = cfg;
            p.clip_skip = 2;
            p.width = kWidth;
            p.height = kHeight;
            p.pose = pose;
            p.tone = tone;
            p.checkpoint_sha256 = farm::Sha256Hex("ckpt");
            p.loras.push_back({"train:" + train_hash + "@" + std::to_string(i % 2 ? 1600 : 800), 0.8});
            farm::store::NewJob render;
            render.kind = farm::store::JobKind::kRender;
            render.render = p;
            sweep.jobs.push_back(render);
            farm::store::NewJob score;
            score.kind = farm::store::JobKind::kScore;
            score.params_json = "{\"score\":" + std::to_string(i) + "}";
            score.param_hash = farm::Sha256Hex(score.params_json);
            score.deps = {sweep.jobs.size() - 1};
            sweep.jobs.push_back(score);
            params_.push_back(p);
          }
        }
      }
    }
    auto created = (*store)->CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    sweep_ = created->sweep_id;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (i == 0) continue;  // never rendered
      const std::string png = Png(kWidth, kHeight, static_cast<int>(i));
      const std::string sha = farm::Sha256Hex(png);
      const std::string relative = "images/" + sha + ".png";
      if (i != 2) std::ofstream(dir_ + "/artifacts/" + relative, std::ios::binary) << png;
      auto artifact = (*store)->InsertArtifact({sha, static_cast<std::int64_t>(png.size()), relative, "image/png"});
      ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
      farm::store::RenderResultUpdate update;
      update.job_id = created->jobs.job_ids[2 * i];
      update.artifact_id = *artifact;
      update.image_sha256 = sha;
      update.agent_id = "agent-1";
      update.seconds = 2.0;
      update.rendered_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(i) * 60'000;
      ASSERT_TRUE((*store)->RecordRenderResult(update).ok());
      ASSERT_TRUE((*store)->SetJobState(update.job_id, farm::store::JobState::kSucceeded).ok());
      if (!scored) continue;
      const farm::RenderParams& p = params_[i];
      farm::store::NewScore score;
      score.render_id = created->jobs.render_ids[2 * i];
      score.identity_id = *identity;
      score.job_id = created->jobs.job_ids[2 * i + 1];
      score.metric = "cosine";
      score.model_version = "face-model-1";
      if (p.pose == "profile" && p.tone == "warm") {
        score.faces_found = 0;
        score.reason = "no face found";
      } else {
        score.faces_found = 1;
        score.similarity = 0.3 + 0.03 * p.cfg + (p.sampler == "Euler a" ? 0.05 : 0.0) + (i % 2 ? 0.02 : 0.0);
      }
      ASSERT_TRUE((*store)->InsertScores({score}).ok());
    }
  }

  CliRun Report(const std::string& args) {
    return Shell(kFarmctl + " report " + std::to_string(sweep_) + " -o " + Quote(dir_ + "/report.html") +
                 " --db " + Quote(db_) + " --agent " + Quote(kAgent) + " --thumb-cache " +
                 Quote(dir_ + "/thumbs") + " " + args + " 2>&1");
  }

  std::string dir_, db_;
  std::int64_t sweep_ = 0;
  std::vector<farm::RenderParams> params_;
};

TEST_F(FarmctlReportTest, SelfContainedPageWithPlotsSheetsAndThumbnailsRendersInChromium) {
  BuildSweep(/*scored=*/true);
  const CliRun run = Report("--thumb 64 --best 4 --group-by pose,tone");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  // 35 rendered images; render 2's file is missing, so 34 distinct thumbnails.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.out, m, std::regex(R"(report\.html: [0-9.]+ (kB|MB|bytes), (\d+) thumbnails)"))) << run.out;
  EXPECT_EQ(m[2], "34") << run.out;
  EXPECT_NE(run.out.find("image file missing"), std::string::npos) << run.out;

  const std::string html = FileBytes(dir_ + "/report.html");
  ASSERT_FALSE(html.empty());
  // Self-contained: nothing to fetch.
  EXPECT_FALSE(std::regex_search(html, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(url\(\s*['"]?(https?:)?//)", std::regex::icase)));
  EXPECT_EQ(Count(html, "<script"), 0);
  // Every <img> is an embedded JPEG; one per distinct image shown.
  EXPECT_EQ(Count(html, "<img "), Count(html, "<img src=\"data:image/jpeg;base64,"));
  EXPECT_GE(Count(html, "<img "), 34);
  // The four plots, with data (no "no data" frame), axes labelled.
  for (const char* plot : {"score-vs-cfg", "pose-success", "score-vs-lora-steps", "score-per-tone"}) {
    EXPECT_NE(html.find(std::string("data-plot=\"") + plot + "\""), std::string::npos) << plot;
  }
  EXPECT_EQ(Count(html, "class=\"no-data\""), 0);
  EXPECT_NE(html.find(">CFG scale<"), std::string::npos);
  EXPECT_NE(html.find(">LoRA steps<"), std::string::npos);
  EXPECT_EQ(Count(html, "<g class=\"series\""), 2 + 1);  // two samplers; one LoRA-steps line
  EXPECT_EQ(Count(html, "<g class=\"box\""), 2);         // warm, cool
  // Success = face and cosine >= 0.5: every cfg-4 render fails (0.42..0.49), cfg 7 and 10
  // pass (0.51..0.67). front: 11 scored (render 0 never rendered), 8 pass; three-quarter:
  // 8/12; profile: the 6 warm ones have no face, so 4/12.
  EXPECT_NE(html.find(">8/11<"), std::string::npos);
  EXPECT_NE(html.find(">8/12<"), std::string::npos);
  EXPECT_NE(html.find(">4/12<"), std::string::npos);
  // Contact sheet: 3 pose rows x 2 tone columns; the unrendered and lost renders say why.
  EXPECT_NE(html.find("not rendered (queued)"), std::string::npos);
  EXPECT_NE(html.find("36: queued 1, succeeded 35"), std::string::npos);
  EXPECT_NE(html.find("image file missing"), std::string::npos);
  // The ranked tables show each render's prompt, read from its canonical record.
  EXPECT_NE(html.find("<span class=\"muted\">studio portrait of sks person</span>"), std::string::npos);
  // Best first: Euler a at cfg 10 with 1600 steps scores 0.3 + 0.3 + 0.05 + 0.02 = 0.67.
  const std::size_t best = html.find("id=\"best\"");
  ASSERT_NE(best, std::string::npos);
  EXPECT_NE(html.find("0.67", best), std::string::npos);
  EXPECT_NE(html.find("Sampler: Euler a", best), std::string::npos);

  // Thumbnails are real downscaled JPEGs (96x144 -> 43x64), cached by the image's sha256.
  int cached = 0;
  for (const auto& entry : fs::directory_iterator(dir_ + "/thumbs")) {
    const auto [w, h] = farmctl::report::JpegSize(FileBytes(entry.path().string()));
    EXPECT_EQ(h, 64) << entry.path();
    EXPECT_EQ(w, 43) << entry.path();
    EXPECT_NE(entry.path().filename().string().find("-64.jpg"), std::string::npos);
    ++cached;
  }
  EXPECT_EQ(cached, 34);
  // A second report reads the cache (same page).
  const CliRun again = Report("--thumb 64 --best 4 --group-by pose,tone");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(FileBytes(dir_ + "/report.html").size(), html.size());

  if (!HaveBrowser()) {
    GTEST_SKIP() << "chromium or node not installed (tools/setup.sh installs both): the browser check did not run";
  }
  const std::string shot = ::testing::TempDir() + "farmctl_report_screenshot.png";
  const CliRun check = Shell(
      "node " + Quote(kChecker) + " " + Quote(dir_ + "/report.html") +
      " --offline --min-images 34 --min-svgs 4 --screenshot " + Quote(shot) +
      " --assert \"document.querySelectorAll('table.sheet tr').length === 4\"" +
      " --assert \"[...document.querySelectorAll('svg.plot')].every(s => s.querySelector('circle,rect.bar'))\"" +
      " --assert \"[...document.images].every(i => i.naturalWidth <= 64 && i.naturalHeight <= 64)\"" +
      " --json 2>&1");
  ASSERT_EQ(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("\"ok\":true"), std::string::npos) << check.out;
  const std::string png = FileBytes(shot);
  ASSERT_GT(png.size(), 10000u) << shot;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::cout << "screenshot: " << shot << "\n";
}

TEST_F(FarmctlReportTest, UnscoredSweepPlotsSayThereIsNoData) {
  BuildSweep(/*scored=*/false);
  const CliRun run = Report("--thumb 48");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const std::string html = FileBytes(dir_ + "/report.html");
  EXPECT_EQ(Count(html, "class=\"no-data\""), 4);
  EXPECT_NE(html.find("no scored renders"), std::string::npos);
  EXPECT_NE(html.find("not scored yet"), std::string::npos);
  EXPECT_NE(html.find("No scored renders yet."), std::string::npos);
  if (!HaveBrowser()) GTEST_SKIP() << "chromium or node not installed (tools/setup.sh installs both)";
  // The "no data" plots still take their place on the page.
  const CliRun check = Shell("node " + Quote(kChecker) + " " +
                             Quote(dir_ + "/report.html") + " --offline --min-svgs 4 2>&1");
  EXPECT_EQ(check.exit_code, 0) << check.out;
}

TEST_F(FarmctlReportTest, LargeSweepsCapTheContactSheetAndSayWhatWasLeftOut) {
  BuildSweep(/*scored=*/true);
  const CliRun run = Report("--thumb 48 --best 0 --max-thumbs 6 --group-by sampler,cfg --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json answer = json::parse(run.out.substr(run.out.find('{')), nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << run.out;
  // 6 cells (2 samplers x 3 cfg), one thumbnail each; the other 30 renders left out.
  EXPECT_EQ(answer.value("thumbnails", -1), 6);
  EXPECT_EQ(answer.value("thumbnails_left_out", -1), 30);
  EXPECT_EQ(answer.value("renders", -1), 36);
  const std::string html = FileBytes(dir_ + "/report.html");
  EXPECT_EQ(Count(html, "<img "), 6);
  EXPECT_EQ(Count(html, "+5 more"), 6);
  EXPECT_NE(html.find("30 lower-scored renders are left out"), std::string::npos);
  EXPECT_EQ(html.find("id=\"best\""), std::string::npos);
}

TEST_F(FarmctlReportTest, BadGroupByIsAUsageErrorAndAnUnknownSweepFails) {
  BuildSweep(/*scored=*/false);
  const CliRun bad = Report("--group-by pose,colour");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("cannot group by 'colour'"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("lora_step"), std::string::npos) << bad.out;
  const CliRun one = Report("--group-by pose");
  EXPECT_EQ(one.exit_code, 2) << one.out;
  sweep_ = 999;
  const CliRun missing = Report("");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_FALSE(fs::exists(dir_ + "/report.html"));
}

// ---- the pieces the page is made of ----

TEST(ReportPiecesTest, Base64AndJpegSize) {
  using farmctl::report::Base64;
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  // SOI, an APP0 segment to skip, then SOF0 with height 0x0102 and width 0x0304.
  const std::string jpeg("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x11\x08\x01\x02\x03\x04", 17);
  EXPECT_EQ(farmctl::report::JpegSize(jpeg), (std::pair<int, int>{0x0304, 0x0102}));
  EXPECT_EQ(farmctl::report::JpegSize("\x89PNG"), (std::pair<int, int>{0, 0}));
}

TEST(ReportPiecesTest, TicksEscapesAndLevelOrder) {
  using farmctl::report::NiceTicks;
  EXPECT_EQ(NiceTicks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(NiceTicks(800, 2000, 6), (std::vector<double>{800, 1000, 1200, 1400, 1600, 1800, 2000}));
  EXPECT_EQ(NiceTicks(3, 3, 5), (std::vector<double>{3}));
  EXPECT_EQ(farmctl::report::HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  // Numbers numerically (cfg 10 after 9), "(none)" last; text alphabetically.
  EXPECT_EQ(farmctl::report::OrderLevels({"10", "(none)", "9", "4.5", "9"}),
            (std::vector<std::string>{"4.5", "9", "10", "(none)"}));
  EXPECT_EQ(farmctl::report::OrderLevels({"warm", "cool", "(none)"}),
            (std::vector<std::string>{"cool", "warm", "(none)"}));
}

TEST(ReportPiecesTest, PlotsWithoutDataSaySoAndPlotsWithDataDrawEveryPoint) {
  using namespace farmctl::report;
  PlotFrame frame{"p", "Title", "x", "y", "nothing here"};
  const std::string empty = LinePlot(frame, {{"a", {}}});
  EXPECT_NE(empty.find("class=\"no-data\""), std::string::npos);
  EXPECT_NE(empty.find("nothing here"), std::string::npos);
  EXPECT_NE(BarPlot(frame, {}, true).find("nothing here"), std::string::npos);
  EXPECT_NE(BoxPlot(frame, {{"warm", {}}}).find("nothing here"), std::string::npos);
  const std::string line = LinePlot(frame, {{"Euler a", {{4, 0.5, 0.45, 0.55, 3}, {7, 0.6, 0.5, 0.7, 3}}},
                                            {"DPM++ 2M", {{4, 0.4, NAN, NAN, 1}}}});
  EXPECT_EQ(line.find("no-data"), std::string::npos);
  EXPECT_EQ(Count(line, "<circle"), 3);
  EXPECT_EQ(Count(line, "<path d=\"M"), 2 /* lines */ + 2 /* intervals; none for n=1 */);
  EXPECT_NE(line.find(">Euler a<"), std::string::npos);  // legend
  const std::string bars = BarPlot(frame, {{"front", 0.8, 0.49, 0.94, "8/10"}}, true);
  EXPECT_EQ(Count(bars, "class=\"bar\""), 1);
  EXPECT_NE(bars.find(">8/10<"), std::string::npos);
}

}  // namespace
