#include "renders_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "farm/query/catalog.h"
#include "farm/store/store.h"
#include "render_files.h"
#include "render_query_run.h"
#include "render_table.h"

namespace farmctl {
namespace {

struct RendersArgs {
  std::vector<std::string> sweeps;
  std::string where;
  std::string order_by;
  std::int64_t limit = 0;
  std::int64_t offset = 0;
  std::vector<std::string> columns;
  bool csv = false;
};

int Run(const GlobalOptions& options, const RendersArgs& args) {
  if (options.json && args.csv) {
    std::cerr << "farmctl renders: --json and --csv exclude each other\n";
    return kExitUsage;
  }
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  farm::query::RenderQuery query;
  auto sweeps = ResolveSweeps(**store, args.sweeps);
  if (!sweeps.ok()) return ReportError(options, sweeps.status());
  query.sweep_ids = *sweeps;
  query.where = args.where;
  query.order_by = args.order_by;
  query.limit = args.limit;
  query.offset = args.offset;
  query.columns = args.columns;
  RenderRowsOrExit run = RunRenderQuery(options, **store, query);
  if (run.exit_code != kExitOk) return run.exit_code;
  if (options.json) {
    std::cout << run.value.rows.dump(2) << "\n";
  } else if (args.csv) {
    PrintRowsCsv(std::cout, run.value.built.columns, run.value.rows);
  } else {
    PrintRowsTable(std::cout, run.value.built.columns, run.value.rows);
    std::cout << run.value.rows.size() << (run.value.rows.size() == 1 ? " render" : " renders") << "\n";
  }
  return kExitOk;
}

}  // namespace

std::string RenderQueryHelp() {
  std::string text =
      "Filter language (--where):\n"
      "  compare       cfg >= 6    sampler = 'Euler a'    seed != 3    (= != <> < <= > >=)\n"
      "  combine       AND, OR, NOT and parentheses: (cfg < 5 OR cfg > 8) AND NOT tone = 'warm'\n"
      "  sets          pose IN ('front', 'profile')    sampler NOT IN ('Euler')\n"
      "  text match    prompt LIKE '%studio%'    (% any text, _ one character)\n"
      "  missing       score IS NULL    lora IS NOT NULL\n"
      "  values        numbers, 'text' or \"text\", TRUE/FALSE; times as ms or '2026-12-01'\n"
      "  nested        params.<path> reads the canonical params: params.stages[0].kind = 'detailer'\n"
      "Order (--order-by): columns with asc/desc, comma-separated, e.g. 'score desc, cfg'.\n"
      "Examples:\n"
      "  farmctl renders --sweep 3 --where \"sampler = 'Euler a' AND cfg >= 6\" --order-by 'score desc' --limit 20\n"
      "  farmctl renders --where \"face_found AND pose IN ('front', 'profile')\" --columns pose,cfg,score --csv\n"
      "  farmctl renders --where 'score IS NULL AND status = \"succeeded\"' --json\n"
      "A bad expression is shown with a caret under the problem (exit 2).\n"
      "Columns (id, param_hash and score are always included):\n";
  std::size_t width = 0;
  for (const farm::query::ColumnInfo& column : farm::query::RenderColumns()) width = std::max(width, column.name.size());
  for (const farm::query::ColumnInfo& column : farm::query::RenderColumns()) {
    std::string type = std::string("(") + farm::query::ColumnTypeName(column.type) + ")";
    text += "  " + column.name + std::string(width - column.name.size() + 1, ' ') + type +
            std::string(type.size() < 10 ? 10 - type.size() : 1, ' ') + column.help + "\n";
  }
  text += "  params.<path>" + std::string(width > 12 ? width - 12 : 1, ' ') +
          "any value of the render's canonical params (JSON path)\n";
  return text;
}

void AddRendersCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<RendersArgs>();
  CLI::App* renders = app.add_subcommand(
      "renders",
      "Query every recorded render result (one row per sweep and render): filter with --where, "
      "order, limit; a table, --json (one array of objects) or --csv");
  renders->add_option("--sweep", args->sweeps, "Only these sweeps (id or name; repeatable)");
  renders->add_option("--where", args->where, "Filter expression (see below)");
  renders->add_option("--order-by", args->order_by, "Order, e.g. 'score desc, cfg' (default: id)");
  renders->add_option("--limit", args->limit, "At most N rows")->check(CLI::NonNegativeNumber);
  renders->add_option("--offset", args->offset, "Skip the first N rows")->check(CLI::NonNegativeNumber);
  renders->add_option("--columns", args->columns, "Columns to show, comma-separated")->delimiter(',');
  renders->add_flag("--csv", args->csv, "RFC 4180 CSV with a header line");
  renders->add_option("--db", options.db_path,
                      "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  renders->footer(RenderQueryHelp());
  renders->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
