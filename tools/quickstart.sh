#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set-up, build, then the quickstart sweep on
# the embedded default farm (farmd + local agents on loopback, SQLite in .studiofarm/).
# Until the render job kind lands, sweep jobs run as synthetic stand-ins (see farmctl run
# --help); the render engine is shown on its own with one image from a tiny random model.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh --target farmctl farmd farm-agent
farmctl=build/tools/farmctl/farmctl
agent=build/agent/farm-agent
spec=experiments/quickstart.yaml
"$farmctl" sweep validate "$spec"
"$farmctl" sweep expand "$spec" --limit 8
"$farmctl" run "$spec" "$@"

# No real SD 1.5 checkpoint is configured here, so the engine renders with a tiny model
# of the same architecture and random weights.
if "$agent" render --help >/dev/null 2>&1; then
  models=.studiofarm/models/tiny
  [ -f "$models/tiny-sd15.safetensors" ] || "$agent" make-tiny-model "$models" --seed 1 >/dev/null
  "$agent" render --checkpoint "$models/tiny-sd15.safetensors" \
    --prompt "studio portrait of a person, (soft key light:1.2), warm tone" --negative "blurry" \
    --sampler "DPM++ 2M Karras" --steps 12 --cfg 7 --seed 1 --size 128x192 \
    -o .studiofarm/quickstart-tiny.png
  echo "note: .studiofarm/quickstart-tiny.png comes from a tiny model with random weights;" \
       "it shows the engine runs end to end, the image itself is not meaningful."
fi
