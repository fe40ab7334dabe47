#!/usr/bin/env bash
# Builds (once) and caches the cosign CLI used by the cosign interoperability
# tests and prints the path of the binary:
#
#   export MODELVERIFY_COSIGN=$(scripts/cosign.sh)
#
# The binary comes from tools/cosign (a separate module pinning
# github.com/sigstore/cosign/v3). A cold build takes several minutes; later
# runs reuse the cached binary. Override the folder with MODELVERIFY_COSIGN_DIR,
# the build parallelism with COSIGN_BUILD_JOBS (default 1, lowest priority).
set -euo pipefail

version=v3.1.3
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MODELVERIFY_COSIGN_DIR:-${HOME}/.cache/modelverify/cosign-${version}}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/cosign" ]]; then
  echo "building cosign ${version} into $dir (several minutes)" >&2
  pkg=sigs.k8s.io/release-utils/version
  (
    cd "$root/tools/cosign"
    CGO_ENABLED=0 nice -n 19 go build -p "${COSIGN_BUILD_JOBS:-1}" -trimpath \
      -ldflags "-s -w -X ${pkg}.gitVersion=${version}" \
      -o "$dir/cosign.tmp" github.com/sigstore/cosign/v3/cmd/cosign
  )
  mv "$dir/cosign.tmp" "$dir/cosign"
fi

echo "$dir/cosign"
