#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set-up, build, then the quickstart sweep on
# the embedded default farm (farmd + local agents on loopback, SQLite in .studiofarm/).
# No real SD 1.5 checkpoint is configured here, so the sweep uses a tiny model of the real
# architecture and random weights, written into the models folder first. The sweep
# (experiments/quickstart_train.yaml) covers the whole pipeline: the face-api demo photos
# are prepared, a tiny LoRA trains for 30 steps, renders use its checkpoints and are
# scored. experiments/quickstart.yaml is the render-only variant (an existing LoRA file).
# Arguments go to `farmctl run` (e.g. --agents 4, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh --target farmctl farmd farm-agent farm-train
farmctl=build/tools/farmctl/farmctl
agent=build/agent/farm-agent
spec=experiments/quickstart_train.yaml
models="${STUDIOFARM_MODELS:-$HOME/.cache/studiofarm/models}"
if [ ! -f "$models/tiny-sd15/tiny-lora.safetensors" ]; then
  "$agent" make-tiny-model "$models/tiny-sd15" --seed 1
fi
"$farmctl" sweep validate "$spec"
"$farmctl" sweep expand "$spec" --limit 8
"$farmctl" run "$spec" "$@"
echo "note: the renders come from a tiny model with random weights: they show the pipeline" \
     "runs end to end; the images themselves are not meaningful."
