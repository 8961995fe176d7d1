#!/usr/bin/env bash
# Cold build times (docs/BENCHMARKS.md, "Build"): a fresh clone of COMMIT (default HEAD)
# built with ccache off, first the programs the quickstart runs, then everything (tests,
# benchmarks), as tools/quickstart.sh and tools/test.sh do. Prints the wall time of each
# step and, from .ninja_log, the CPU-heaviest targets and translation units.
#   tools/bench/build_time.sh [COMMIT] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
commit=HEAD
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) commit="$1"; shift ;;
  esac
done
work=${keep:-$(mktemp -d /tmp/studiofarm-build-time.XXXXXX)}
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks . "$work/src"
git -C "$work/src" checkout -q "$commit"
# ../shared next to the clone, as for the repository itself (the tests find it there).
[ -e "$work/shared" ] || ln -s "$(cd .. && pwd)/shared" "$work/shared"
export CCACHE_DISABLE=1
cd "$work/src"
echo "commit $(git rev-parse --short HEAD) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
step() {
  local name=$1; shift
  local start=$SECONDS
  "$@" >"$work/$name.log" 2>&1 || { echo "$name failed: see $work/$name.log" >&2; tail -20 "$work/$name.log" >&2; exit 1; }
  printf '%-28s %5d s\n' "$name" $((SECONDS - start))
}
step configure cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
step quickstart-programs cmake --build build -j "$(nproc)" --target farmctl farmd farm-agent farm-train
step everything-else cmake --build build -j "$(nproc)"
echo "warnings: $(cat "$work"/quickstart-programs.log "$work"/everything-else.log | grep -c 'warning:' || true)"
# .ninja_log: start and end in ms, then the output. Edge times add up to the CPU-bound
# work (each compile is one process on one core).
awk 'NR > 1 { total += ($2 - $1) / 1000 } END { printf "sum of edge times: %d s\n", total }' build/.ninja_log
echo "heaviest targets:"
awk 'NR > 1 { t = ($2 - $1) / 1000; tgt = $4; sub(/\.dir\/.*/, "", tgt); sub(/.*CMakeFiles\//, "", tgt);
              sum[tgt] += t; n[tgt]++ }
     END { for (k in sum) printf "%8.1f s %4d edges  %s\n", sum[k], n[k], k }' build/.ninja_log |
  sort -k1,1 -rn | head -15
echo "slowest translation units:"
awk 'NR > 1 { printf "%8.1f s  %s\n", ($2 - $1) / 1000, $4 }' build/.ninja_log | sort -rn | head -10
