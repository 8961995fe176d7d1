// farm-agent's one-shot training-data preparation (agent/prepare), for people and for
// `farmctl identity prepare`, which runs it and reads its --json answer:
//   farm-agent prepare --identity NAME --token "sks person" --photos P1 P2 ... --out ROOT
//       [--ratio 3] [--resolution 512] [--caption "a photo of {token}"] [--pick largest]
//       [--flip] [--checkpoint FILE] [--face-models DIR] [--json]
// Progress goes to stderr; --json prints one object on stdout (docs/training.md).
// Exit codes: 0 ok (also with photos left out), 1 failure, 2 usage.
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers `prepare` on `app`. After parsing, RunPrepareCommand runs it and returns the
// exit code, or -1 when `prepare` was not given.
void AddPrepareCommand(CLI::App& app);
int RunPrepareCommand(const CLI::App& app);

}  // namespace farm::agent
