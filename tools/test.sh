#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: set-up, build, ctest.
#   tools/test.sh [ctest arguments...]     e.g. tools/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
