#!/usr/bin/env bash
# Builds (once) and caches local-kms, the AWS KMS-compatible server that the
# awskms:// signing tests and benchmarks run against, and prints the path of
# the binary:
#
#   export MODELVERIFY_LOCAL_KMS=$(scripts/local-kms.sh)
#
# The binary is tools/local-kms's own main (a separate module pinning
# github.com/nsmithuk/local-kms), which serves local-kms's handler on
# 127.0.0.1 only. Later runs reuse the cached binary. Override
# the folder with MODELVERIFY_LOCAL_KMS_DIR, the build parallelism with
# LOCAL_KMS_BUILD_JOBS (default 1, lowest priority).
set -euo pipefail

version=v0.0.0-20260228092603-2a5e92d09ab6
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/cached-tool.sh
. "$root/scripts/lib/cached-tool.sh"
# The cache key names our main's revision too: bump it when main.go changes.
cached_tool local-kms "${MODELVERIFY_LOCAL_KMS_DIR:-${HOME}/.cache/modelverify/local-kms-${version}-loopback1}" \
  "$root/tools/local-kms" . "${LOCAL_KMS_BUILD_JOBS:-1}"
