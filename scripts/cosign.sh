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
# shellcheck source=lib/cached-tool.sh
. "$root/scripts/lib/cached-tool.sh"
cached_tool cosign "${MODELVERIFY_COSIGN_DIR:-${HOME}/.cache/modelverify/cosign-${version}}" \
  "$root/tools/cosign" github.com/sigstore/cosign/v3/cmd/cosign "${COSIGN_BUILD_JOBS:-1}" \
  "-X sigs.k8s.io/release-utils/version.gitVersion=${version}"
