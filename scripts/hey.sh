#!/usr/bin/env bash
# Builds (once) and caches the hey HTTP load generator used by bench/webhook-latency.sh,
# and prints the path of the binary:
#
#   export MODELVERIFY_HEY=$(scripts/hey.sh)
#
# The binary comes from tools/hey (a separate module pinning github.com/rakyll/hey at
# v0.1.5). Later runs reuse the cached binary. Override the folder with
# MODELVERIFY_HEY_DIR, the build parallelism with HEY_BUILD_JOBS (default 1,
# lowest priority).
set -euo pipefail

version=v0.1.5
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MODELVERIFY_HEY_DIR:-${HOME}/.cache/modelverify/hey-${version}}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/hey" ]]; then
  echo "building hey ${version} into $dir" >&2
  (
    cd "$root/tools/hey"
    CGO_ENABLED=0 nice -n 19 go build -p "${HEY_BUILD_JOBS:-1}" -trimpath \
      -ldflags "-s -w" -o "$dir/hey.tmp" github.com/rakyll/hey
  )
  mv "$dir/hey.tmp" "$dir/hey"
fi

echo "$dir/hey"
