// farmctl identity add|list|show: the people whose faces the farm learns and scores.
//   add NAME PHOTO... [--pick largest] [--token T]
//       embeds every photo in one `farm-agent faces embed` call. Each photo must show
//       exactly one face; photos with none or several are listed by name and nothing is
//       stored (exit 1), unless --pick largest keeps the face with the largest box. Stores
//       the identity and, per photo, its sha256, absolute path, face count, the kept
//       face's descriptor and model version, and every face found (faces_json). A name
//       that exists is an error (AlreadyExists). Creates the database when missing.
//   list        every identity: photos, analysed photos, descriptor model
//   show NAME   its photos with face counts and descriptor norms, the mean norm
// --db (global) picks the database; list and show open it read-only. --json everywhere.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `identity`; the subcommand that runs sets `exit_code`. `options` and
// `exit_code` must outlive app.parse().
void AddIdentityCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
