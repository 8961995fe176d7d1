#!/usr/bin/env bash
# The portrait recipe benchmark (docs/BENCHMARKS.md): time per stage and inside each model
# for txt2img + a pipeline preset on random full-size SD 1.5 models, generated on first
# use under ~/.cache/studiofarm/bench (never committed). Arguments go to bench_recipe, e.g.
#   tools/bench/recipe.sh --threads 2 --steps 20 --size 512x768 --pipeline studio
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/build.sh --target bench_recipe >/dev/null
exec build/agent/pipeline/bench_recipe "$@"
