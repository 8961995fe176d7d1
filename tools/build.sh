#!/usr/bin/env bash
# Configures and builds StudioFarm into build/ (Ninja, ccache). Extra arguments are
# passed to `cmake --build`, e.g. `tools/build.sh --target farmctl`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$(nproc)" "$@"
