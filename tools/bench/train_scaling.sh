#!/usr/bin/env bash
# Data-parallel LoRA training scaling on this machine: seconds per optimizer step at 1 and
# 2 ranks (one thread each, the same per-rank batch), the efficiency t(1) / t(2), and the
# collectives and bytes all-reduced per step. Random SD 1.5 weights (no download).
#   tools/bench/train_scaling.sh [tiny|full] [steps] [extra bench_train_ranks flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-tiny}"
steps="${2:-3}"
shift $(( $# > 2 ? 2 : $# )) || true
bench=build/agent/train/bench_train_ranks
[ -x "$bench" ] || { echo "build it first: tools/build.sh --target bench_train_ranks" >&2; exit 1; }
export OMP_NUM_THREADS=1
one=$(tools/mpirun.sh 1 "$bench" --size "$size" --steps "$steps" "$@")
two=$(tools/mpirun.sh 2 "$bench" --size "$size" --steps "$steps" "$@")
echo "$one"
echo "$two"
python3 - "$one" "$two" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"efficiency at 2 ranks: {a['seconds_per_step'] / b['seconds_per_step'] * 100:.1f} % "
      f"({a['seconds_per_step']:.3f} s/step at 1 rank, {b['seconds_per_step']:.3f} s/step at 2 ranks; "
      f"{b['all_reduces_per_step']:.0f} all-reduce of {b['bytes_all_reduced_per_step'] / 1e6:.2f} MB per step)")
PY
