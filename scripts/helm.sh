#!/usr/bin/env bash
# Builds (once) and caches the helm v3 CLI that lints and renders deploy/helm/modelverify,
# and prints the path of the binary:
#
#   export MODELVERIFY_HELM=$(scripts/helm.sh)
#
# The binary comes from tools/helm (a separate module pinning helm.sh/helm/v3/cmd/helm at
# v3.22.0). Later runs reuse the cached binary. Override the folder with
# MODELVERIFY_HELM_DIR, the build parallelism with HELM_BUILD_JOBS (default 1,
# lowest priority).
set -euo pipefail

version=v3.22.0
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/cached-tool.sh
. "$root/scripts/lib/cached-tool.sh"
cached_tool helm "${MODELVERIFY_HELM_DIR:-${HOME}/.cache/modelverify/helm-${version}}" \
  "$root/tools/helm" helm.sh/helm/v3/cmd/helm "${HELM_BUILD_JOBS:-1}" \
  "-X helm.sh/helm/v3/internal/version.version=${version}"
