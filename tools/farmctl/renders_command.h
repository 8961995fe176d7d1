// farmctl renders: every recorded render result (one row per sweep and render) filtered
// with the query language (--where), ordered, limited, as a table for a person, one JSON
// array (--json) or RFC 4180 CSV (--csv). A bad expression is printed with a caret under
// the problem on stderr: exit 2. `farmctl renders --help` explains the language and lists
// the columns. Reads the database read-only.
#pragma once

#include <string>

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// The language and the columns, for --help (the columns from farm::query::RenderColumns()).
std::string RenderQueryHelp();

// Registers `renders`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddRendersCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
