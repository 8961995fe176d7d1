// farmctl init: the farm's state folder with farmd's HTTPS certificate (made once, reused),
// remembered in the known farms file; farmctl cert show: that certificate's fingerprint,
// the pin clients on other machines give as --fingerprint.
#pragma once

#include "cli_common.h"
#include "run_command.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `init` and `cert show`. The references must outlive app.parse().
//   init [--listen HOST:PORT] [--name NAME]... [--no-remember]
//       makes <state>/tls/farmd.crt and farmd.key (state: the --db file's folder) unless
//       they exist, and lists the farm's names (NAME..., this host, the listen host; with the
//       port when --listen has one) with the fingerprint in the known farms file.
//   cert show [--cert FILE]   prints "sha256:<hex>" of <state>/tls/farmd.crt (or FILE).
// With --json: {"ok":true,"cert":...,"key":...,"fingerprint":...,"generated":...,
// "remembered":[...],"known_farms":...} and {"ok":true,"cert":...,"fingerprint":...}.
void AddTlsCommands(CLI::App& app, GlobalOptions& options, const ApiEnvironment& environment,
                    int& exit_code);

}  // namespace farmctl
