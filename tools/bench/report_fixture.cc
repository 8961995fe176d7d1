// Builds the sweep that tools/bench/report.sh times `farmctl report` on: N renders through
// the store (render + score jobs, RecordRenderResult, InsertScores), each with a real
// full-size PNG artifact (textured, zlib-compressed like a render, so decoding costs what
// a real one does).
//
//   bench_report_fixture DIR [--renders 1000] [--size 512x768]
// Writes DIR/farm.db and DIR/artifacts/; prints the sweep id.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace {

void Put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

void Chunk(std::string& png, const char* type, const std::string& data) {
  Put32(png, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  png += body;
  Put32(png, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

// A gradient with a bright oval and per-pixel noise (compresses about as badly as a photo).
std::string Png(int width, int height, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string raw;
  raw.reserve(static_cast<std::size_t>(height) * (width * 3 + 1));
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    for (int x = 0; x < width; ++x) {
      const int dx = x - width / 2, dy = y - height / 3;
      const bool face = dx * dx * 4 + dy * dy * 3 < width * width / 3;
      const int noise = static_cast<int>(rng() % 24);
      raw += static_cast<char>(std::min(255, (face ? 200 : x * 200 / width) + noise));
      raw += static_cast<char>(std::min(255, (face ? 160 : y * 200 / height) + noise));
      raw += static_cast<char>(std::min(255, (face ? 130 : static_cast<int>(seed * 37 % 200)) + noise));
    }
  }
  uLongf size = compressBound(raw.size());
  std::string compressed(size, '\0');
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
            raw.size(), 6);
  compressed.resize(size);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  Put32(header, width);
  Put32(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);
  Chunk(png, "IHDR", header);
  Chunk(png, "IDAT", compressed);
  Chunk(png, "IEND", "");
  return png;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "bench_report_fixture: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Fail("usage: bench_report_fixture DIR [--renders N] [--size WxH]");
  const std::string dir = argv[1];
  int renders = 1000, width = 512, height = 768;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--renders") == 0) renders = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--size") == 0) std::sscanf(argv[i + 1], "%dx%d", &width, &height);
    else return Fail(std::string("unknown option ") + argv[i]);
  }
  std::filesystem::create_directories(dir + "/artifacts/images");
  auto store = farm::store::Store::Open(dir + "/farm.db", farm::store::OpenMode::kReadWrite);
  if (!store.ok()) return Fail(store.status().ToString());
  farm::store::NewIdentity ana;
  ana.name = "ana";
  ana.instance_token = "sks person";
  auto identity = (*store)->CreateIdentity(ana);
  if (!identity.ok()) return Fail(identity.status().ToString());

  const char* samplers[] = {"Euler a", "Euler", "DPM++ 2M", "DPM++ SDE"};
  const double cfgs[] = {3, 4.5, 6, 7.5, 9};
  const char* poses[] = {"front", "three-quarter", "profile", "over-shoulder", "hands-on-chin"};
  const char* tones[] = {"warm", "cool"};
  const int steps[] = {800, 1000, 1600, 2000};
  const std::string train_hash = farm::Sha256Hex("bench-train");
  farm::store::NewSweep sweep{"report-bench", "name: report-bench\n", 0, {}};
  for (int i = 0; i < renders; ++i) {
    farm::RenderParams p;
    p.prompt = "studio portrait of sks person";
    p.seed = 5000 + i;
    p.sampler = samplers[i % 4];
    p.scheduler = "karras";
    p.cfg = cfgs[(i / 4) % 5];
    p.pose = poses[(i / 20) % 5];
    p.tone = tones[(i / 100) % 2];
    p.width = width;
    p.height = height;
    p.checkpoint_sha256 = farm::Sha256Hex("ckpt");
    p.loras.push_back({"train:" + train_hash + "@" + std::to_string(steps[(i / 200) % 4]), 0.8});
    farm::store::NewJob render;
    render.kind = farm::store::JobKind::kRender;
    render.render = p;
    sweep.jobs.push_back(render);
    farm::store::NewJob score;
    score.kind = farm::store::JobKind::kScore;
    score.params_json = "{\"bench_score\":" + std::to_string(i) + "}";
    score.param_hash = farm::Sha256Hex(score.params_json);
    score.deps = {sweep.jobs.size() - 1};
    sweep.jobs.push_back(score);
  }
  auto created = (*store)->CreateSweep(sweep);
  if (!created.ok()) return Fail(created.status().ToString());
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  for (int i = 0; i < renders; ++i) {
    const std::string png = Png(width, height, static_cast<std::uint32_t>(i));
    const std::string sha = farm::Sha256Hex(png);
    const std::string relative = "images/" + sha + ".png";
    std::ofstream(dir + "/artifacts/" + relative, std::ios::binary) << png;
    auto artifact = (*store)->InsertArtifact({sha, static_cast<std::int64_t>(png.size()), relative, "image/png"});
    if (!artifact.ok()) return Fail(artifact.status().ToString());
    farm::store::RenderResultUpdate update;
    update.job_id = created->jobs.job_ids[2 * i];
    update.artifact_id = *artifact;
    update.image_sha256 = sha;
    update.agent_id = "agent-" + std::to_string(i % 3);
    update.seconds = 20.0 + i % 7;
    if (auto s = (*store)->RecordRenderResult(update); !s.ok()) return Fail(s.ToString());
    if (auto s = (*store)->SetJobState(update.job_id, farm::store::JobState::kSucceeded); !s.ok()) {
      return Fail(s.ToString());
    }
    farm::store::NewScore score;
    score.render_id = created->jobs.render_ids[2 * i];
    score.identity_id = *identity;
    score.job_id = created->jobs.job_ids[2 * i + 1];
    score.metric = "cosine";
    score.model_version = "face-model-1";
    score.faces_found = (i % 5 == 2 && i % 3 == 0) ? 0 : 1;  // some profiles find no face
    if (score.faces_found) score.similarity = 0.35 + 0.02 * sweep.jobs[2 * i].render->cfg + noise(rng);
    if (auto s = (*store)->InsertScores({score}); !s.ok()) return Fail(s.status().ToString());
  }
  std::printf("%lld\n", static_cast<long long>(created->sweep_id));
  return 0;
}
