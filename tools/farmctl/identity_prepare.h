// `farmctl identity prepare NAME`: the identity's photos (as `identity add` recorded them)
// prepared for LoRA training by one `farm-agent prepare --json` call: square face crops,
// captions with the identity's token, the manifest, optionally the VAE latent cache. The
// dataset folder is content-addressed, so running it again finds the same folder.
#pragma once

#include <CLI/CLI.hpp>

#include "cli_common.h"

namespace farmctl {

// Registers `prepare` under the `identity` command.
void AddIdentityPrepareCommand(CLI::App* identity, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
