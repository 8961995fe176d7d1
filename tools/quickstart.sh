#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set-up, build, then the quickstart sweep on
# the embedded default farm (farmd + local agents on loopback, SQLite in .studiofarm/).
# Until the render job kind lands, jobs run as synthetic stand-ins (see farmctl run --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh --target farmctl farmd farm-agent
farmctl=build/tools/farmctl/farmctl
spec=experiments/quickstart.yaml
"$farmctl" sweep validate "$spec"
"$farmctl" sweep expand "$spec" --limit 8
"$farmctl" run "$spec" "$@"
