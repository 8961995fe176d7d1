// bench_query: `farmctl renders` over a large farm — BuildRenderQuery + Store::Select on
// a database of synthetic render results (docs/BENCHMARKS.md, "query").
//
//   bench_query [--rows N] [--sweeps N] [--runs N] [--db PATH] [--sqlite3 PATH] [--analyze]
//
// Makes (or reuses, when --db names an existing benchmark database) a store with N
// renders (default 1,000,000) spread over --sweeps sweeps, one render_results row each:
// 4 samplers, cfg 3..12, 8 poses p1..p8, 2 tones, 4 step counts, random seeds, scores
// ~N(0.5, 0.1) with 5% NULL (no face); records split as the store writes them (the
// members of each pose and tone once, in render_settings). The schema comes from Store::Open (the farm's
// migrations); the rows from one INSERT ... SELECT per table run by the sqlite3 shell
// (the store is the only SQLite user in the farm's code, and the rows are generated
// inside SQLite from the row number, so every run builds the same data).
// Then, for each query shape, times BuildRenderQuery + Store::Select with a warm cache
// (median, min and max of --runs runs after one warm-up) and prints its EXPLAIN QUERY PLAN.
// --analyze runs ANALYZE first (the farm does not), to show what statistics change.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "farm/query/render_query.h"
#include "farm/schemas/child_process.h"
#include "farm/store/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::int64_t rows = 1000000;
  std::int64_t sweeps = 10;
  int runs = 25;
  std::string db_path;  // empty: a fresh temporary directory
  std::string sqlite3 = "/usr/bin/sqlite3";
  bool analyze = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--analyze") {
      args->analyze = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--rows") {
      args->rows = std::atoll(value.c_str());
    } else if (flag == "--sweeps") {
      args->sweeps = std::atoll(value.c_str());
    } else if (flag == "--runs") {
      args->runs = std::atoi(value.c_str());
    } else if (flag == "--db") {
      args->db_path = value;
    } else if (flag == "--sqlite3") {
      args->sqlite3 = value;
    } else {
      return false;
    }
  }
  return args->rows > 0 && args->sweeps > 0 && args->runs > 0;
}

// Deterministic "random" digits of row i: a multiplicative hash modulo a prime, one
// multiplier per attribute.
std::string Hash(const std::string& i, std::int64_t multiplier) {
  return "((" + i + " * " + std::to_string(multiplier) + ") % 2147483647)";
}

std::string PopulateSql(const Args& args) {
  const std::string n = std::to_string(args.rows);
  const std::string per_sweep = std::to_string((args.rows + args.sweeps - 1) / args.sweeps);
  // score = 0.5 + 0.1 * z, z from the sum of four uniforms (Irwin-Hall, sd sqrt(1/3)).
  std::string uniform_sum;
  const std::int64_t score_multipliers[] = {48271, 69621, 16807, 39373};
  for (std::int64_t m : score_multipliers) {
    uniform_sum += (uniform_sum.empty() ? "" : " + ") + Hash("i", m) + " / 2147483647.0";
  }
  const std::string base =
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + n + ") ";
  std::string sql;
  sql += "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = OFF;\nBEGIN;\n";
  sql += "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(args.sweeps) +
         ") INSERT INTO sweeps (id, name, spec_yaml, spec_sha256, state, created_at, updated_at) "
         "SELECT i, 'bench-' || i, 'name: bench', printf('%064d', i), 'succeeded', "
         "1796083200000, 1796083200000 FROM n;\n";
  sql += "INSERT INTO identities (id, name, instance_token, photos_sha256, created_at) "
         "VALUES (1, 'ana', 'sks person', printf('%064d', 1), 1796083200000);\n";
  // Attributes as columns of one CTE row so renders and jobs agree.
  const std::string attrs =
      "SELECT i, (i - 1) / " + per_sweep + " + 1 AS sweep, " +
      "CASE " + Hash("i", 2654435) + " % 4 WHEN 0 THEN 'Euler a' WHEN 1 THEN 'Euler' "
      "WHEN 2 THEN 'DPM++ 2M' ELSE 'DPM++ SDE' END AS sampler, " +
      "3 + " + Hash("i", 40692) + " % 10 AS cfg, " +
      "'p' || (1 + " + Hash("i", 40014) + " % 8) AS pose, " +
      "CASE " + Hash("i", 53668) + " % 2 WHEN 0 THEN 'warm' ELSE 'cool' END AS tone, " +
      "20 + 5 * (" + Hash("i", 12211) + " % 4) AS steps, " +
      Hash("i", 3399) + " AS seed, " +
      "printf('%064x', i) AS param_hash FROM n";
  sql += base + ", a AS (" + attrs + ") INSERT INTO jobs (id, sweep_id, kind, param_hash, "
         "params_json, state, created_at, updated_at) SELECT i, sweep, 'render', param_hash, "
         "'{}', 'succeeded', 1796083200000 + i, 1796083200000 + i FROM a;\n";
  // Rows as the store writes them (0014_render_settings.sql): the members a (pose, tone)
  // cell shares once in render_settings, each render's own members in params_json.
  sql += "WITH RECURSIVE c(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM c WHERE k < 15) "
         "INSERT INTO render_settings (id, fingerprint, settings_json, created_at) "
         "SELECT k + 1, k, json_object('checkpoint_sha256', printf('%064d', 7), "
         "'controlnets', json_array(), 'engine', 'studiofarm-sd/1', 'kind', 'render', "
         "'loras', json_array(json_object('ref', 'train:' || printf('%064d', 3) || '@1600', "
         "'weight', 0.8)), 'negative_prompt', 'blurry, lowres', 'pose', 'p' || (k / 2 + 1), "
         "'prompt', 'studio portrait of sks person, ' || "
         "CASE k % 2 WHEN 0 THEN 'warm' ELSE 'cool' END || ' light', 'rng', 'cpu', "
         "'stages', json_array(), 'tone', CASE k % 2 WHEN 0 THEN 'warm' ELSE 'cool' END, "
         "'v', 1), 1796083200000 FROM c;\n";
  sql += base + ", a AS (" + attrs + ") INSERT INTO renders (id, param_hash, params_json, job_id, "
         "seed, sampler, scheduler, steps, cfg, clip_skip, width, height, pose, tone, denoise, "
         "lora_ref, lora_weight, checkpoint_sha256, created_at, settings_id) "
         "SELECT i, param_hash, json_object('cfg', cfg, 'clip_skip', 2, 'denoise', 1.0, "
         "'height', 768, 'sampler', sampler, 'scheduler', 'karras', 'seed', seed, "
         "'steps', steps, 'width', 512), "
         "i, seed, sampler, 'karras', steps, cfg, 2, 512, 768, pose, tone, 1.0, "
         "'train:' || printf('%064d', 3) || '@1600', 0.8, printf('%064d', 7), "
         "1796083200000 + i, " +
         "(" + Hash("i", 40014) + " % 8) * 2 + " + Hash("i", 53668) + " % 2 + 1 FROM a;\n";
  sql += base + "INSERT INTO render_results (id, sweep_id, render_id, job_id, image_sha256, "
         "agent_id, agent_version, seconds, identity_id, score, faces_found, created_at) "
         "SELECT i, (i - 1) / " + per_sweep + " + 1, i, i, printf('%064x', i * 7), "
         "'agent-' || (i % 16), '1.0', 2.0 + " + Hash("i", 31) + " % 1000 / 100.0, 1, " +
         "CASE WHEN " + Hash("i", 7) + " % 20 = 0 THEN NULL ELSE round(0.5 + 0.1 * ((" +
         uniform_sum + ") - 2.0) / 0.57735, 4) END, " +
         "CASE WHEN " + Hash("i", 7) + " % 20 = 0 THEN 0 ELSE 1 END, 1796083200000 + i FROM n;\n";
  sql += "COMMIT;\n";
  return sql;
}

struct Shape {
  std::string name;
  farm::query::RenderQuery query;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

int Fail(const farm::Status& status) {
  std::cerr << "bench_query: " << status.ToString() << "\n";
  return 1;
}

bool RunSqlite(const Args& args, const std::string& db, const std::string& sql_file,
               const std::string& log) {
  farm::ChildOptions options;
  options.argv = {args.sqlite3, "-bail", db, ".read " + sql_file};
  options.log_path = log;
  auto child = farm::ChildProcess::Start(options);
  if (!child.ok()) {
    std::cerr << "bench_query: cannot start " << args.sqlite3 << ": " << child.status().ToString()
              << "\n";
    return false;
  }
  while (child->Running()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (child->exit_code().value_or(1) != 0) {
    std::cerr << "bench_query: sqlite3 failed:\n" << farm::TailOfFile(log, 20) << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::cerr << "usage: bench_query [--rows N] [--sweeps N] [--runs N] [--db PATH] "
                 "[--sqlite3 PATH] [--analyze]\n";
    return 2;
  }
  fs::path dir;
  if (args.db_path.empty()) {
    std::string pattern = (fs::temp_directory_path() / "bench_query_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    dir = pattern;
    args.db_path = (dir / "farm.db").string();
  }
  const bool reuse = fs::exists(args.db_path);
  if (!reuse) {
    {
      auto store = farm::store::Store::Open(args.db_path, farm::store::OpenMode::kReadWrite);
      if (!store.ok()) return Fail(store.status());
    }
    const std::string sql_file = args.db_path + ".populate.sql";
    std::ofstream(sql_file) << PopulateSql(args);
    const auto start = Clock::now();
    if (!RunSqlite(args, args.db_path, sql_file, args.db_path + ".sqlite3.log")) return 1;
    std::cout << "built " << args.rows << " render results in "
              << std::chrono::duration<double>(Clock::now() - start).count() << " s ("
              << fs::file_size(args.db_path) / (1 << 20) << " MiB): " << args.db_path << "\n";
  } else {
    std::cout << "reusing " << args.db_path << "\n";
  }
  if (args.analyze) {
    const std::string sql_file = args.db_path + ".analyze.sql";
    std::ofstream(sql_file) << "ANALYZE;\n";
    if (!RunSqlite(args, args.db_path, sql_file, args.db_path + ".sqlite3.log")) return 1;
    std::cout << "ran ANALYZE\n";
  }

  auto opened = farm::store::Store::Open(args.db_path, farm::store::OpenMode::kReadOnly);
  if (!opened.ok()) return Fail(opened.status());
  farm::store::Store& store = **opened;

  const std::string filter = "sampler = \"Euler a\" AND cfg >= 6 AND pose IN (\"p1\",\"p2\",\"p3\")";
  std::vector<Shape> shapes;
  auto add = [&](std::string name, std::vector<std::int64_t> sweeps, std::string where,
                 std::string order, std::int64_t limit) {
    Shape shape;
    shape.name = std::move(name);
    shape.query.sweep_ids = std::move(sweeps);
    shape.query.where = std::move(where);
    shape.query.order_by = std::move(order);
    shape.query.limit = limit;
    shapes.push_back(std::move(shape));
  };
  add("top-100 by score, filtered (issue 14 §7)", {}, filter, "score desc", 100);
  add("top-100 by score, filtered, one sweep", {3}, filter, "score desc", 100);
  add("top-100 by score, no filter", {}, "", "score desc", 100);
  add("filtered, no order (by id), limit 100", {}, filter, "", 100);
  add("filtered, order by cfg desc, limit 100", {}, filter, "cfg desc", 100);
  add("selective filter (seed), top by score", {}, "seed = 3399", "score desc", 100);
  add("one sweep, face_found and score range, every row", {3},
      "face_found = true AND score >= 0.7", "score desc", 0);
  // The prompt lives with the settings a cell shares (0014_render_settings.sql).
  add("prompt filter, top-100 by score", {}, "prompt LIKE \"%cool light\"", "score desc", 100);

  std::cout << "query: BuildRenderQuery + Store::Select, default columns, warm cache, "
            << args.runs << " runs\n";
  for (const Shape& shape : shapes) {
    std::vector<double> ms;
    std::size_t rows = 0;
    farm::query::BuiltQuery built;
    for (int run = 0; run <= args.runs; ++run) {
      const auto start = Clock::now();
      auto query = farm::query::BuildRenderQuery(shape.query);
      if (!query.ok()) return Fail(query.status());
      auto result = store.Select(query->sql, query->binds);
      if (!result.ok()) return Fail(result.status());
      const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (run > 0) ms.push_back(elapsed);  // run 0 warms the cache
      rows = result->rows.size();
      built = *query;
    }
    std::cout << "\n== " << shape.name << "\n";
    std::cout << "   --where '" << shape.query.where << "' --order-by '" << shape.query.order_by
              << "' --limit " << shape.query.limit;
    if (!shape.query.sweep_ids.empty()) std::cout << " --sweep " << shape.query.sweep_ids[0];
    std::cout << "\n   rows " << rows << "  median " << Median(ms) << " ms  min "
              << *std::min_element(ms.begin(), ms.end()) << " ms  max "
              << *std::max_element(ms.begin(), ms.end()) << " ms\n";
    auto plan = store.Select("EXPLAIN QUERY PLAN " + built.sql, built.binds);
    if (!plan.ok()) return Fail(plan.status());
    for (const auto& row : plan->rows) {
      std::cout << "   plan: " << std::get<std::string>(row.back()) << "\n";
    }
  }
  if (!dir.empty()) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  return 0;
}
