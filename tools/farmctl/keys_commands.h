// farmctl keys gen: make CURVE key pairs for farmd and farm-agents; farmctl token new: API
// bearer tokens for farmd. Links farm_curve_keys (libsodium only); farmctl never links ZeroMQ.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers the `keys` verb on `app`. When a subcommand runs it sets `exit_code`.
// `options` and `exit_code` must outlive app.parse().
//   gen --out PREFIX [--force]   writes PREFIX.key (public and secret, mode 0600) and
//                                PREFIX.pub (public only, for farmd's allow-list). Refuses
//                                (exit 1, AlreadyExists) when either file exists, unless
//                                --force; nothing is written then. Prints the public key
//                                (with --json: {"ok":true,"public_key":...,"key_file":...,
//                                "public_file":...}).
void AddKeysCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

// Registers the `token` verb: `token new [--kind admin|read]` prints a random token once
// and the "<kind> sha256:<hex>" line for farmd's --tokens-file (with --json:
// {"ok":true,"kind","token","tokens_file_line"}).
void AddTokenCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
