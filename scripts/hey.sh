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
# shellcheck source=lib/cached-tool.sh
. "$root/scripts/lib/cached-tool.sh"
cached_tool hey "${MODELVERIFY_HEY_DIR:-${HOME}/.cache/modelverify/hey-${version}}" \
  "$root/tools/hey" github.com/rakyll/hey "${HEY_BUILD_JOBS:-1}"
