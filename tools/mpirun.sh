#!/usr/bin/env bash
# Starts NP ranks of a program on this machine under mpirun (OpenMPI), the way farm-train's
# tests start them:
#
#   tools/mpirun.sh NP PROGRAM [ARGS...]
#
# Adds --oversubscribe (a 2-core machine runs more ranks than cores, on purpose),
# --bind-to none (ranks share the cores with whatever else runs), and --allow-run-as-root
# when run as root (OpenMPI refuses root otherwise). FARM_MPIRUN names another mpirun.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: tools/mpirun.sh NP PROGRAM [ARGS...]" >&2
  exit 2
fi
np="$1"
shift
case "$np" in
  '' | *[!0-9]* | 0)
    echo "tools/mpirun.sh: NP must be a positive integer, got '$np'" >&2
    exit 2
    ;;
esac

mpirun="${FARM_MPIRUN:-mpirun}"
if ! command -v "$mpirun" >/dev/null 2>&1; then
  echo "tools/mpirun.sh: '$mpirun' not found (install openmpi-bin, e.g. with tools/setup.sh)" >&2
  exit 127
fi

flags=(-np "$np" --oversubscribe --bind-to none)
if [ "$(id -u)" = 0 ]; then
  flags+=(--allow-run-as-root)
fi
exec "$mpirun" "${flags[@]}" "$@"
