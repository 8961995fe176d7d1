#!/bin/sh
# Usage: standalone_build_test.sh REPO_ROOT WORK_DIR GENERATOR [TORCH_DIR]
# Configures REPO_ROOT/kernels alone into WORK_DIR and builds a few cheap targets of it.
set -u
root=$1
work=$2
generator=$3
torch_dir=${4:-}

fail() {
  echo "kernels standalone build: $*" >&2
  exit 1
}

rm -rf "$work"
mkdir -p "$work" || fail "cannot create $work"
set -- -S "$root/kernels" -B "$work" -G "$generator"
[ -n "$torch_dir" ] && set -- "$@" "-DTorch_DIR=$torch_dir"
cmake "$@" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure failed"; }
if grep -q "libtorch not found" "$work/configure.log"; then
  cat "$work/configure.log"
  fail "libtorch was not found (expected at Torch_DIR=$torch_dir)"
fi

# The engine, face ID, image ops and the engine's own tests are all targets there.
cmake --build "$work" --target help >"$work/targets.txt" 2>&1 || fail "cannot list targets"
for target in farm_status farm_sd_io farm_sd_text farm_sd_engine farm_faceid farm_image sd_engine_test; do
  grep -q "^$target[: ]" "$work/targets.txt" || grep -q "[ /]$target[: ]" "$work/targets.txt" ||
    { cat "$work/targets.txt"; fail "no target $target in the standalone build"; }
done

# Status from schemas/ (through FARM_REPO_ROOT) and torch-free sources of two engine parts,
# compiled with those parts' include folders and flags.
objects="sd/io/CMakeFiles/farm_sd_io.dir/src/json.cc.o sd/text/CMakeFiles/farm_sd_text.dir/src/clip_tokenizer.cc.o"
cmake --build "$work" -j 2 --target farm_status $objects >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "build failed"; }
[ -f "$work/libfarm_status.a" ] || fail "libfarm_status.a was not written"
echo "kernels/ configured alone in $work; built farm_status and $objects"
