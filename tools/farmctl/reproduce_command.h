// farmctl reproduce RENDER_ID: re-runs a stored render from its recorded canonical params
// on this machine and says whether the result is bit-identical to the stored image.
// Reads the render's params_json and image artifact from the database (read-only), writes
// the params to a temporary file, runs `farm-agent render-params` (exactly what a render
// job runs) and `farm-agent pixel-hash` on the stored PNG, and compares the two pixel
// hashes (SHA-256 of "WxHxC\n" + decoded pixels, so PNG encoder settings do not matter).
// The stored PNG is found under the artifact root (--artifacts, default: the folder
// "artifacts" next to the database, as farmctl run lays it out).
// Exit codes: 0 the hashes match; 1 they differ (both hashes are printed), the render has
// no image, or a step failed; 2 the command line is wrong.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `reproduce`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddReproduceCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
