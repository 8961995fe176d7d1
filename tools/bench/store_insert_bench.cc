// bench_store_insert: how fast the store takes renders, the coordinator's bulk path
// when a sweep of thousands of renders is created.
//
//   bench_store_insert [--rows N] [--batch N] [--db PATH] [--contrast-rows N]
//
// Builds N realistic render records (varied seeds, samplers, CFG, poses, tones, one
// LoRA, a ControlNet unit and four pipeline stages), then times, each into a fresh
// database:
//   1. Store::InsertRenders in transactions of --batch rows, records carrying their
//      canonical JSON and param_hash (as ExpandSweep hands them over), linked to a sweep;
//   2. the same with the store computing ToCanonicalJson itself;
//   3. Store::CreateSweep with N render jobs in one transaction (`farmctl run`'s path);
//   4. ToCanonicalJson + SHA-256 alone, without the store;
//   5. for contrast, --contrast-rows rows with one transaction per row.
// --inline-checkpoints checkpoints the write-ahead log inside the commits that fill it
// (SQLite's default) instead of on the store's checkpoint thread.
// --lines picks some of them (e.g. `--lines 1,3`, for a profile of one path).
// Prints rows/s (wall and per CPU-second) with the machine, its load and the command.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::int64_t rows = 100000;
  std::int64_t batch = 10000;
  std::int64_t contrast_rows = 2000;
  std::string db_path;              // empty: a fresh temporary directory
  std::string lines = "12345";      // which of the numbered runs above
  bool inline_checkpoints = false;  // SQLite's checkpoints inside commits, for contrast
};

farm::store::StoreOptions StoreOptionsOf(const Args& args) {
  farm::store::StoreOptions options;
  options.background_checkpoints = !args.inline_checkpoints;
  return options;
}

bool ParseCount(const char* text, std::int64_t* out) {
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value < 0) return false;
  *out = value;
  return true;
}

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (flag == "--inline-checkpoints") {
      args->inline_checkpoints = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "bench_store_insert: " << flag << " needs a value\n";
      return false;
    }
    const char* value = argv[++i];
    bool ok = true;
    if (flag == "--rows") {
      ok = ParseCount(value, &args->rows);
    } else if (flag == "--batch") {
      ok = ParseCount(value, &args->batch) && args->batch > 0;
    } else if (flag == "--contrast-rows") {
      ok = ParseCount(value, &args->contrast_rows);
    } else if (flag == "--db") {
      args->db_path = value;
    } else if (flag == "--lines") {
      args->lines.clear();
      for (const char* c = value; *c != '\0'; ++c) {
        if (*c >= '1' && *c <= '5') {
          args->lines += *c;
        } else if (*c != ',') {
          ok = false;
        }
      }
      ok = ok && !args->lines.empty();
    } else {
      std::cerr << "bench_store_insert: unknown flag " << flag << "\n";
      return false;
    }
    if (!ok) {
      std::cerr << "bench_store_insert: bad value '" << value << "' for " << flag << "\n";
      return false;
    }
  }
  return true;
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}

// A render as the tone x sampler and CFG studies produce them: row `i` varies the seed,
// sampler, CFG, steps, clip skip, pose and tone.
farm::RenderParams MakeRender(std::int64_t i) {
  static const char* kSamplers[][2] = {
      {"Euler", "normal"}, {"Euler a", "normal"}, {"DPM++ 2M", "karras"}, {"DPM++ SDE", "karras"}};
  static const char* kPoses[] = {"three_quarter_left", "three_quarter_right", "frontal",
                                 "over_shoulder"};
  static const char* kTones[] = {"warm", "cool"};
  static const std::string kCheckpoint = farm::Sha256Hex("sd15-photoreal.safetensors");
  static const std::string kLora = "train:" + farm::Sha256Hex("identity-ana-train") + "@1600";
  static const std::string kPoseNet = farm::Sha256Hex("control_v11p_sd15_openpose");

  const auto* sampler = kSamplers[i % 4];
  const char* tone = kTones[(i / 4) % 2];
  farm::RenderParams p;
  p.prompt = std::string("studio portrait photo of sks person, ") +
             (tone[0] == 'w' ? "golden hour light, warm orange tones"
                             : "bright bluish light, cool tones") +
             ", 85mm, shallow depth of field, detailed skin, sharp focus, profile picture";
  p.negative_prompt = "lowres, blurry, deformed hands, extra fingers, watermark, text, cartoon";
  p.seed = 1000003ULL * static_cast<std::uint64_t>(i) + 17;
  p.sampler = sampler[0];
  p.scheduler = sampler[1];
  p.steps = 20 + 5 * static_cast<int>((i / 8) % 3);
  p.cfg = 4.0 + 0.5 * static_cast<double>((i / 24) % 9);
  p.clip_skip = 1 + static_cast<int>((i / 216) % 2);
  p.pose = kPoses[(i / 432) % 4];
  p.tone = tone;
  p.denoise = 1.0;
  p.checkpoint_sha256 = kCheckpoint;
  p.loras.push_back({kLora, 0.8});
  p.controlnets.push_back({kPoseNet, std::string("pose:") + p.pose, 0.9, 0.0, 0.8});
  p.stages.push_back({"detailer", {{"target", std::string("face")}, {"denoise", 0.35}}});
  p.stages.push_back({"img2img", {{"denoise", 0.3}, {"prompt", std::string("photo, soft light")}}});
  p.stages.push_back({"upscale", {{"scale", 1.5}, {"mode", std::string("tiled")}}});
  p.stages.push_back({"tone", {{"preset", std::string(tone)}, {"strength", 0.6}}});
  return p;
}

struct RunResult {
  double seconds = 0;      // wall clock
  double cpu_seconds = 0;  // this process, user + system: less sensitive to other load
  std::int64_t rows = 0;
};

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// A render job as ExpandSweep produces it: RenderParams with canonical JSON and hash.
farm::StatusOr<farm::store::NewJob> RenderJob(std::int64_t i) {
  farm::store::NewJob job;
  job.kind = farm::store::JobKind::kRender;
  job.render = MakeRender(i);
  FARM_ASSIGN_OR_RETURN(job.params_json, farm::ToCanonicalJson(*job.render));
  job.param_hash = farm::Sha256Hex(job.params_json);
  return job;
}

// CreateSweep with `rows` render jobs: one transaction writing the sweep, the jobs, the
// render rows and their links (the path `farmctl run` takes).
farm::StatusOr<RunResult> CreateSweepRun(const Args& args, const std::string& db_path,
                                         std::int64_t rows) {
  FARM_ASSIGN_OR_RETURN(
      auto store,
      farm::store::Store::Open(db_path, farm::store::OpenMode::kReadWrite, StoreOptionsOf(args)));
  farm::store::NewSweep sweep;
  sweep.name = "bench-sweep";
  sweep.spec_yaml = "name: bench-sweep\n";
  sweep.jobs.reserve(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    FARM_ASSIGN_OR_RETURN(farm::store::NewJob job, RenderJob(i));
    sweep.jobs.push_back(std::move(job));
  }
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  FARM_ASSIGN_OR_RETURN(const farm::store::CreatedSweep created, store->CreateSweep(sweep));
  RunResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  result.rows = rows;
  if (created.jobs.renders_created != rows) return farm::Internal("renders were shared");
  return result;
}

// Inserts `rows` renders (row numbers from `first`) in transactions of `batch` rows.
// With `precomputed`, the records carry their canonical JSON and param_hash, as
// ExpandSweep hands them to the coordinator; otherwise the store computes them.
farm::StatusOr<RunResult> InsertRun(const Args& args, const std::string& db_path,
                                    std::int64_t first, std::int64_t rows, std::int64_t batch,
                                    bool precomputed) {
  FARM_ASSIGN_OR_RETURN(
      auto store,
      farm::store::Store::Open(db_path, farm::store::OpenMode::kReadWrite, StoreOptionsOf(args)));
  farm::store::NewSweep sweep;
  sweep.name = "bench";
  sweep.spec_yaml = "name: bench\n";
  FARM_ASSIGN_OR_RETURN(const farm::store::CreatedSweep created, store->CreateSweep(sweep));

  // Records are built before timing: the clock covers canonical JSON, hashing and SQL.
  std::vector<std::vector<farm::store::NewRender>> batches;
  for (std::int64_t i = 0; i < rows; ++i) {
    if (i % batch == 0) batches.emplace_back().reserve(static_cast<std::size_t>(batch));
    farm::store::NewRender render{MakeRender(first + i), created.sweep_id, 0, "", ""};
    if (precomputed) {
      FARM_ASSIGN_OR_RETURN(render.params_json, farm::ToCanonicalJson(render.params));
      render.param_hash = farm::Sha256Hex(render.params_json);
    }
    batches.back().push_back(std::move(render));
  }
  const double cpu_start = ProcessCpuSeconds();
  const auto start = Clock::now();
  for (const auto& chunk : batches) {
    FARM_ASSIGN_OR_RETURN(auto inserted, store->InsertRenders(chunk));
    if (!inserted.empty() && !inserted.back().created) {
      return farm::Internal("a render of the run was a duplicate");
    }
  }
  RunResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  result.rows = rows;
  const farm::store::WalCheckpointStats wal = store->wal_checkpoints();
  std::cerr << "wal checkpoints: background " << wal.background_runs << ", inline "
            << wal.inline_runs << ", failures " << wal.failures << "\n";
  return result;
}

// Canonical JSON + SHA-256 alone, to separate the CPU share from SQLite's.
double CanonicalSeconds(std::int64_t rows) {
  std::vector<farm::RenderParams> params;
  params.reserve(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) params.push_back(MakeRender(i));
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (const auto& p : params) {
    auto json = farm::ToCanonicalJson(p);
    if (json.ok()) bytes += farm::Sha256Hex(*json).size() + json->size();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (bytes == 0 && rows > 0) std::cerr << "canonical JSON failed\n";
  return seconds;
}

void RemoveDatabase(const std::string& path) {
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, ignored);
}

void PrintRun(const char* label, const RunResult& run) {
  std::cout << std::fixed << std::setprecision(2) << label << ": " << run.rows << " rows in "
            << run.seconds << " s = " << static_cast<std::int64_t>(run.rows / run.seconds)
            << " rows/s (" << std::setprecision(1) << 1e6 * run.seconds / run.rows
            << " us/row; CPU " << std::setprecision(2) << run.cpu_seconds
            << " s = " << static_cast<std::int64_t>(run.rows / run.cpu_seconds)
            << " rows per CPU-s)\n";
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::cerr << "usage: bench_store_insert [--rows N (100000)] [--batch N (10000)] "
                 "[--db PATH (temporary)] [--contrast-rows N (2000, 0 = skip)] "
                 "[--lines 1,2,3,4,5 (all)] [--inline-checkpoints]\n";
    return 2;
  }
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);

  std::string temp_dir;
  if (args.db_path.empty()) {
    std::string pattern = (fs::temp_directory_path() / "bench_store_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "bench_store_insert: cannot create a directory under "
                << fs::temp_directory_path() << "\n";
      return 1;
    }
    temp_dir = pattern;
    args.db_path = temp_dir + "/bench.db";
  } else if (fs::exists(args.db_path)) {
    std::cerr << "bench_store_insert: " << args.db_path
              << " exists; give a new path so every row is a fresh insert\n";
    return 2;
  }

  std::cout << "command: " << command << "\n"
            << "machine: " << sysconf(_SC_NPROCESSORS_ONLN) << " cores, " << CpuModel()
            << ", load average " << LoadAverage() << "; malloc: " << FARM_ALLOCATOR
            << " (as farmd)\n"
            << "database: " << args.db_path << "\n";
  int exit_code = 0;
  const auto wanted = [&](char line) { return args.lines.find(line) != std::string::npos; };
  // Prints a run's line, or its error (and the exit code becomes 1); true when it ran.
  const auto report = [&](const std::string& label, const farm::StatusOr<RunResult>& run) {
    if (!run.ok()) {
      std::cerr << "bench_store_insert: " << run.status().ToString() << "\n";
      exit_code = 1;
      return false;
    }
    PrintRun(label.c_str(), *run);
    return true;
  };
  const std::string batch_label = "batch " + std::to_string(args.batch);
  if (wanted('1')) {
    auto run = InsertRun(args, args.db_path, 0, args.rows, args.batch, /*precomputed=*/true);
    if (report(batch_label + ", canonical JSON precomputed (as from ExpandSweep)", run)) {
      std::cout << "database size: " << fs::file_size(args.db_path) / (1024 * 1024) << " MiB\n";
    }
  }
  if (wanted('2')) {
    // The same rows into a second file, this time canonicalised by the store.
    const std::string path = args.db_path + ".canonicalise.db";
    report(batch_label + ", canonical JSON computed by the store",
           InsertRun(args, path, 0, args.rows, args.batch, /*precomputed=*/false));
    RemoveDatabase(path);
  }
  if (wanted('3')) {
    const std::string path = args.db_path + ".sweep.db";
    report("CreateSweep, all render jobs in one transaction, precomputed",
           CreateSweepRun(args, path, args.rows));
    RemoveDatabase(path);
  }
  const std::int64_t canonical_rows = std::min<std::int64_t>(args.rows, 20000);
  if (wanted('4') && canonical_rows > 0) {
    const double seconds = CanonicalSeconds(canonical_rows);
    std::cout << "ToCanonicalJson + SHA-256 alone (no store): "
              << static_cast<std::int64_t>(canonical_rows / seconds) << " rows/s\n";
  }
  if (wanted('5') && args.contrast_rows > 0) {
    const std::string path = args.db_path + ".per-row.db";
    report("batch 1 (one transaction per row), precomputed",
           InsertRun(args, path, args.rows, args.contrast_rows, 1, true));
    RemoveDatabase(path);
  }
  if (!temp_dir.empty()) fs::remove_all(temp_dir);
  return exit_code;
}
