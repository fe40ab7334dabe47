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
dir=${MODELVERIFY_HELM_DIR:-${HOME}/.cache/modelverify/helm-${version}}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/helm" ]]; then
  echo "building helm ${version} into $dir" >&2
  (
    cd "$root/tools/helm"
    CGO_ENABLED=0 nice -n 19 go build -p "${HELM_BUILD_JOBS:-1}" -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${version}" -o "$dir/helm.tmp" helm.sh/helm/v3/cmd/helm
  )
  mv "$dir/helm.tmp" "$dir/helm"
fi

echo "$dir/helm"
