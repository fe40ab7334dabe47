#!/usr/bin/env bash
# Builds (once) and caches the oras CLI that bench/push_pull.sh runs beside
# modelverify's push and pull, and prints the path of the binary:
#
#   ORAS=$(scripts/oras.sh)
#
# The binary comes from tools/oras (a separate module pinning oras.land/oras).
# Override the folder with MODELVERIFY_ORAS_DIR, the build parallelism with
# ORAS_BUILD_JOBS (default 1, lowest priority).
set -euo pipefail

version=v1.3.6
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MODELVERIFY_ORAS_DIR:-${HOME}/.cache/modelverify/oras-${version}}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/oras" ]]; then
  echo "building oras ${version} into $dir" >&2
  (
    cd "$root/tools/oras"
    CGO_ENABLED=0 nice -n 19 go build -p "${ORAS_BUILD_JOBS:-1}" -trimpath \
      -ldflags "-s -w -X oras.land/oras/internal/version.BuildMetadata=" -o "$dir/oras.tmp" oras.land/oras/cmd/oras
  )
  mv "$dir/oras.tmp" "$dir/oras"
fi

echo "$dir/oras"
