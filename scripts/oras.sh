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
# shellcheck source=lib/cached-tool.sh
. "$root/scripts/lib/cached-tool.sh"
cached_tool oras "${MODELVERIFY_ORAS_DIR:-${HOME}/.cache/modelverify/oras-${version}}" \
  "$root/tools/oras" oras.land/oras/cmd/oras "${ORAS_BUILD_JOBS:-1}" \
  "-X oras.land/oras/internal/version.BuildMetadata="
