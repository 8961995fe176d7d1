#!/usr/bin/env bash
# Runs ctest on build/ and closes with what ran: tests defined, passed, failed, skipped,
# and every skipped test (whole suites, exit 77) and skipped case (inside a suite that
# otherwise ran) with its reason. Exit status: ctest's; with CI=true also 1 when any test
# that should have run did not (only "needs a GPU" skips are allowed there).
#   tools/ctest_report.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
log_dir=build/test-report
mkdir -p "$log_dir"
skip_log="$log_dir/skips.txt"
ctest_log="$log_dir/ctest.txt"
: >"$skip_log"

set +e
FARM_SKIP_LOG="$PWD/$skip_log" ctest --test-dir build --output-on-failure -j "$(nproc)" "$@" \
  2>&1 | tee "$ctest_log"
ctest_status=${PIPESTATUS[0]}
set -e

# ctest prints one line per test: "  3/111 Test  #3: name ....   Passed    0.12 sec".
defined=$(ctest --test-dir build -N "$@" | sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed +[0-9.]+ sec' "$ctest_log" || true)
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$ctest_log" || true)
failed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)|Not Run' "$ctest_log" || true)
cases_skipped=$(wc -l <"$skip_log")

echo
echo "== test report =="
echo "tests defined: ${defined:-?}; ran to the end: $((passed + failed)); skipped whole: $skipped"
if [ "$cases_skipped" -gt 0 ]; then
  echo "skipped test cases ($cases_skipped), with their reasons:"
  sed 's/^/  /' "$skip_log"
fi
echo "$passed passed, $failed failed, $skipped skipped"

status=$ctest_status
if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then
  ci_error() { echo "error: $*" >&2; [ "$status" -ne 0 ] || status=1; }
  if [ -z "$defined" ] || [ "$((passed + failed + skipped))" -ne "$defined" ]; then
    ci_error "under CI every defined test must run: $defined defined, $((passed + failed + skipped)) reported"
  fi
  # Allowed: no GPU, or a kernel (or sandbox) refusing network namespaces (tests/netns).
  if grep -v -e ': needs a GPU' -e ': needs network namespaces' "$skip_log" | grep -q .; then
    ci_error "tests were skipped under CI for reasons set-up should have removed (listed above)"
  fi
  # A whole suite may skip under CI only for those reasons, and must say so.
  for name in $(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*\*\*\*Skipped.*/\1/p' "$ctest_log"); do
    grep -qE "^$name: .*: needs (a GPU|network namespaces)" "$skip_log" ||
      ci_error "$name was skipped whole under CI"
  done
fi
exit "$status"
