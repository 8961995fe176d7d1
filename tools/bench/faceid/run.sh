#!/usr/bin/env bash
# The face-ID benchmark (README.md here): bench_faceid (kernels/faceid) and face-api
# 1.7.15 in Node with the tfjs WASM backend, one after the other on the same machine, on
# face-api's six demo photos; prints one table with the ratio, then the 512x768 sweep.
#
#   tools/bench/faceid/run.sh [--rounds N] [--sweep N] [--workers N] [--threads N] [--cpu-backend]
#
# --rounds: passes over the six photos after model load and a warm-up (default 2).
# --sweep / --workers: bench_faceid's 512x768 sweep (default 1000 renders on 2 threads).
# --threads: libtorch intra-op threads for the photos (default: libtorch's choice).
# --cpu-backend: also run face-api on tfjs's pure-JS cpu backend (one round; slow).
# Photos and weights: $STUDIOFARM_MODELS (default ~/.cache/studiofarm/models)/face-api/
# {demo,model}. The Node packages are installed with npm, pinned, into
# $STUDIOFARM_BENCH_CACHE (default ~/.cache/studiofarm/bench)/faceid-node on first use.
# FACEID_BENCH_NO_BUILD=1 skips building bench_faceid (already built in build/).
set -euo pipefail
cd "$(dirname "$0")/../../.."

rounds=2 sweep=1000 workers=2 threads=0 cpu_backend=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --sweep) sweep="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --cpu-backend) cpu_backend=1; shift ;;
    *) echo "usage: $0 [--rounds N] [--sweep N] [--workers N] [--threads N] [--cpu-backend]" >&2; exit 2 ;;
  esac
done

models="${STUDIOFARM_MODELS:-$HOME/.cache/studiofarm/models}"
for f in "$models"/face-api/demo/sample{1,2,3,4,5,6}.jpg \
         "$models"/face-api/model/ssd_mobilenetv1_model-weights_manifest.json; do
  if [ ! -f "$f" ]; then
    echo "run.sh: $f is missing; get face-api's demo photos and weights with" >&2
    echo "  npm pack @vladmandic/face-api@1.7.15 && tar xzf vladmandic-face-api-1.7.15.tgz" >&2
    echo "and copy package/demo and package/model to $models/face-api/" >&2
    exit 1
  fi
done

# face-api 1.7.15 is built against tfjs 4.22.0 (its dist/tfjs.version.js); jpeg-js 0.4.4
# is the decoder the reference data used (../shared/reference/faceid/README.md).
node_dir="${STUDIOFARM_BENCH_CACHE:-$HOME/.cache/studiofarm/bench}/faceid-node"
packages=(@vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 jpeg-js@0.4.4)
if ! (cd "$node_dir" 2>/dev/null && npm ls --depth=0 "${packages[@]}" >/dev/null 2>&1); then
  mkdir -p "$node_dir"
  echo "installing ${packages[*]} into $node_dir" >&2
  (cd "$node_dir" && npm install --no-audit --no-fund --save-exact "${packages[@]}" >&2)
fi

if [ "${FACEID_BENCH_NO_BUILD:-0}" != 1 ]; then
  tools/build.sh --target bench_faceid >/dev/null
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== bench_faceid (threads ${threads:-default}, sweep $sweep on $workers workers)"
build/kernels/faceid/bench/bench_faceid --models "$models" --rounds "$rounds" --sweep "$sweep" \
    --workers "$workers" --threads "$threads" | tee "$out/ours"
echo "== face-api 1.7.15, tfjs wasm backend"
NODE_PATH="$node_dir/node_modules" node tools/bench/faceid/faceapi_bench.js \
    --models "$models" --backend wasm --rounds "$rounds" | tee "$out/wasm"
if [ "$cpu_backend" = 1 ]; then
  echo "== face-api 1.7.15, tfjs cpu backend (1 round)"
  NODE_PATH="$node_dir/node_modules" node tools/bench/faceid/faceapi_bench.js \
      --models "$models" --backend cpu --rounds 1 | tee "$out/cpu"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# key=value lines -> one table, ms per photo; ratio = face-api / ours (higher: we are faster).
awk -v cpu="$cpu_backend" '
  FNR == 1 { file = FILENAME; sub(".*/", "", file) }
  /^[a-z_]+=/ { split($0, kv, "="); v[file, kv[1]] = kv[2] }
  END {
    n = v["ours", "photos"]; nw = v["wasm", "photos"]; nc = v["cpu", "photos"]
    ours["decode"] = v["ours", "decode_s"]; ours["detector"] = v["ours", "detector_s"]
    ours["landmarks + descriptor"] = v["ours", "landmarks_s"] + v["ours", "descriptor_s"]
    ours["pipeline (no decode)"] = v["ours", "total_s"] - v["ours", "decode_s"]
    ours["total"] = v["ours", "total_s"]
    wasm["decode"] = v["wasm", "decode_s"]; wasm["detector"] = v["wasm", "detector_s"]
    wasm["landmarks + descriptor"] = v["wasm", "pipeline_s"] - v["wasm", "detector_s"]
    wasm["pipeline (no decode)"] = v["wasm", "pipeline_s"]; wasm["total"] = v["wasm", "total_s"]
    cpus["decode"] = v["cpu", "decode_s"]; cpus["detector"] = v["cpu", "detector_s"]
    cpus["landmarks + descriptor"] = v["cpu", "pipeline_s"] - v["cpu", "detector_s"]
    cpus["pipeline (no decode)"] = v["cpu", "pipeline_s"]; cpus["total"] = v["cpu", "total_s"]
    split("decode,detector,landmarks + descriptor,pipeline (no decode),total", rows, ",")
    printf "\n%-24s %12s %14s %8s", "ms per photo", "studiofarm", "face-api wasm", "ratio"
    if (cpu) printf " %14s %8s", "face-api cpu", "ratio"
    printf "\n"
    for (i = 1; i <= 5; ++i) {
      r = rows[i]; a = 1000 * ours[r] / n; b = 1000 * wasm[r] / nw
      printf "%-24s %12.1f %14.1f %7.1fx", r, a, b, b / a
      if (cpu) { c = 1000 * cpus[r] / nc; printf " %14.1f %7.1fx", c, c / a }
      printf "\n"
    }
    fo = v["ours", "faces"] / v["ours", "total_s"]; fw = v["wasm", "faces"] / v["wasm", "total_s"]
    printf "%-24s %12.2f %14.2f %7.1fx", "faces/s (with decode)", fo, fw, fo / fw
    if (cpu) { fc = v["cpu", "faces"] / v["cpu", "total_s"]; printf " %14.2f %7.1fx", fc, fo / fc }
    printf "\n%-24s %12d %14d\n", "faces found", v["ours", "faces"], v["wasm", "faces"]
    if (v["ours", "sweep_renders"] > 0) {
      printf "\nsweep: %d renders of 512x768 -> %d descriptors in %.1f s on %d workers (%.1f ms/render)\n",
             v["ours", "sweep_renders"], v["ours", "sweep_descriptors"], v["ours", "sweep_s"],
             v["ours", "workers"], 1000 * v["ours", "sweep_s"] / v["ours", "sweep_renders"]
    }
  }' "$out/ours" "$out/wasm" $([ "$cpu_backend" = 1 ] && echo "$out/cpu")
