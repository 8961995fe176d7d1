#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: set-up, build, ctest, then a summary
# that says how many of the defined tests ran and lists every skip with its reason.
#   tools/test.sh [ctest arguments...]     e.g. tools/test.sh -L unit
# With CI=true (as .ci/run is run) a skip fails the run unless its reason is a missing GPU or
# a kernel refusing network namespaces: set-up installs everything else the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
exec tools/ctest_report.sh "$@"
