#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set-up, build, then the quickstart sweep on
# the embedded default farm. Until the farm runtime lands this validates and expands
# experiments/quickstart.yaml and records it in a fresh local database.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh --target farmctl
farmctl=build/tools/farmctl/farmctl
spec=experiments/quickstart.yaml
"$farmctl" db init
"$farmctl" sweep validate "$spec"
"$farmctl" sweep expand "$spec" --limit 16
