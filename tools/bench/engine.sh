#!/usr/bin/env bash
# The render engine benchmark (docs/BENCHMARKS.md): builds bench_engine and runs it.
# A random full-size SD 1.5 checkpoint (~4.3 GB, fp32) is generated on first use under
# ~/.cache/studiofarm/bench (never committed). Arguments go to bench_engine, e.g.
#   tools/bench/engine.sh --threads 2 --size 512x768 --steps 20
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/build.sh --target bench_engine >/dev/null
exec build/kernels/sd/bench/bench_engine "$@"
