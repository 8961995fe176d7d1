// farm-agent pose extract: poses from a photo (kernels/pose: MoveNet multipose, HandTrack +
// hand landmarks, face-ID face points) in OpenPose form, for people and for farmctl:
//   farm-agent pose extract PHOTO [--models DIR] [--json] [--person N]
//                                 [--out POSE.json [--preview PREVIEW.png] [--force]]
// Models: --models ROOT (default $STUDIOFARM_MODELS, else ~/.cache/studiofarm/models) holds
// human-models/ (or is that folder) and face-api/model (optional: without it no face
// points). The output and JSON fields: docs/poses.md ("Extracting a pose from a photo").
// Exit codes: 0 ok, 1 failure, 2 usage, 3 no person found.
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers `pose` and `pose extract` on `app`. After parsing, RunPoseCommand runs it and
// returns the exit code, or -1 when `pose` was not given.
void AddPoseCommands(CLI::App& app);
int RunPoseCommand(const CLI::App& app);

}  // namespace farm::agent
