#!/usr/bin/env bash
# farmctl report on a 1,000-render sweep (issue 14 §7: under 10 s). Builds the sweep with
# full-size textured PNGs (bench_report_fixture) in a scratch folder, then times the report
# with an empty thumbnail cache (every image shrunk by farm-agent) and again with a warm
# cache, and prints each time and the file's size.
#   tools/bench/report.sh [--renders N] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
renders=1000
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --renders) renders="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "report.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
build=build
flock /tmp/studiofarm-build.lock cmake --build "$build" -j2 --target bench_report_fixture farmctl farm-agent >/dev/null
dir="${keep:-$(mktemp -d /tmp/farm-report-bench.XXXXXX)}"
mkdir -p "$dir"
[ -n "$keep" ] || trap 'rm -rf "$dir"' EXIT
sweep=$("$build/tools/bench/bench_report_fixture" "$dir" --renders "$renders")
rm -rf "$dir/thumbs"
cmd=("$build/tools/farmctl/farmctl" report "$sweep" -o "$dir/report.html" --db "$dir/farm.db"
     --agent "$build/agent/farm-agent" --thumb-cache "$dir/thumbs")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: ${cmd[*]}"
for run in cold warm; do
  start=$(date +%s.%N)
  out=$("${cmd[@]}")
  end=$(date +%s.%N)
  printf '%s cache: %s s  (%s)\n' "$run" "$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b - a}')" "$out"
done
