#!/usr/bin/env bash
# Agent model-cache hit rate (docs/BENCHMARKS.md): a 200-render sweep (2 LoRAs x 2 tones x
# 50 seeds) on the tiny model through `farmctl run` with 2 local agents. Each render job
# reports how many of its models (checkpoint, LoRA) it found loaded and how many it had to
# load (attempt metrics in the database). Extra arguments go to `farmctl run`, e.g.
#   tools/bench/model_cache.sh --model-cache-mb 6     # a budget of about one checkpoint
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/build.sh --target farmctl farmd farm-agent >/dev/null
farmctl=$PWD/build/tools/farmctl/farmctl
agent=$PWD/build/agent/farm-agent
work=$(mktemp -d /tmp/studiofarm-model-cache.XXXXXX)
trap 'rm -rf "$work"' EXIT
models="$work/models"
"$agent" make-tiny-model "$models/tiny" --seed 1 >/dev/null
"$agent" make-tiny-model "$work/other" --seed 2 >/dev/null  # only its LoRA is used
cp "$work/other/tiny-lora.safetensors" "$models/tiny/tiny-lora-b.safetensors"
# The spec needs an identity's photos; with no score jobs they are only hashed.
ln -s "${STUDIOFARM_MODELS:-$HOME/.cache/studiofarm/models}/face-api" "$models/face-api"
cat > "$work/cache.yaml" <<'SPEC'
name: model_cache_bench
identity: {name: bench, photos: models/face-api/demo/sample1.jpg, token: sks person}
checkpoint: {path: models/tiny/tiny-sd15.safetensors}
loras:
  a: {path: models/tiny/tiny-lora.safetensors}
  b: {path: models/tiny/tiny-lora-b.safetensors}
render:
  prompt: "studio portrait photo of {token}, {tone}"
  size: 64x64
  steps: 4
  cfg: 7
  sampler: Euler
  lora_weight: 0.8
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
          26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
          49, 50]
grid:
  lora: [a, b]
  tone: [warm, cool]
pipeline: fast
SPEC
start=$(date +%s.%N)
"$farmctl" --models-dir "$models" --db "$work/state/farm.db" run "$work/cache.yaml" --agents 2 "$@" >/dev/null
end=$(date +%s.%N)
echo "machine: $(hostname), $(nproc) cores; farmctl run $* ; wall $(echo "$end - $start" | bc) s"
sqlite3 -header -column "$work/state/farm.db" "
  SELECT a.agent_id AS agent, count(*) AS renders,
         sum(json_extract(a.metrics_json, '$.models_from_cache')) AS from_cache,
         sum(json_extract(a.metrics_json, '$.models_loaded')) AS loaded,
         round(100.0 * sum(json_extract(a.metrics_json, '$.models_from_cache')) /
               (sum(json_extract(a.metrics_json, '$.models_from_cache')) +
                sum(json_extract(a.metrics_json, '$.models_loaded'))), 1) AS hit_rate_pct,
         round(avg(json_extract(a.metrics_json, '$.seconds_total')), 3) AS mean_render_s
  FROM attempts a JOIN jobs j ON j.id = a.job_id
  WHERE j.kind = 'render' AND a.outcome = 'succeeded'
  GROUP BY a.agent_id
  UNION ALL
  SELECT 'all', count(*), sum(json_extract(a.metrics_json, '$.models_from_cache')),
         sum(json_extract(a.metrics_json, '$.models_loaded')),
         round(100.0 * sum(json_extract(a.metrics_json, '$.models_from_cache')) /
               (sum(json_extract(a.metrics_json, '$.models_from_cache')) +
                sum(json_extract(a.metrics_json, '$.models_loaded'))), 1),
         round(avg(json_extract(a.metrics_json, '$.seconds_total')), 3)
  FROM attempts a JOIN jobs j ON j.id = a.job_id
  WHERE j.kind = 'render' AND a.outcome = 'succeeded';"
