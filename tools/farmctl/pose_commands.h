// farmctl pose extract: a pose for the pose library from a photo. farmctl links no numeric
// library: it runs `farm-agent pose extract` (found like `farmctl run` finds it, or --agent
// PATH), which finds the people, hands and faces and writes <poses-dir>/<name>.json (the
// format of docs/poses.md, checked by the library's own reader) and <name>.png, a preview
// of the control map; its output and exit code are passed through.
//   pose extract PHOTO [--name NAME] [--person N] [--force] [--poses-dir DIR] [--json]
// Exit codes: 0 ok, 1 failure (including an existing file without --force), 2 usage,
// 3 no person found.
#pragma once

#include <string>

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// The pose name for a photo: its file stem lower-cased, with every character outside
// [a-z0-9_] replaced by '_', at most 64 characters ("IMG-0042.JPG" -> "img_0042").
std::string PoseNameFromPhoto(const std::string& photo);

// Registers `pose`; the subcommand that runs sets `exit_code`. `options` and `exit_code`
// must outlive app.parse().
void AddPoseCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
