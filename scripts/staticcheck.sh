#!/usr/bin/env bash
# Builds (once) and caches staticcheck, then runs its default checks on the
# module: `make lint` fails on any finding. Override the folder with
# MODELVERIFY_STATICCHECK_DIR.
set -euo pipefail

version=v0.8.2
dir=${MODELVERIFY_STATICCHECK_DIR:-${HOME}/.cache/modelverify/staticcheck-${version}}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [[ ! -x "$dir/staticcheck" ]]; then
  echo "building staticcheck ${version} into $dir" >&2
  GOBIN="$dir" CGO_ENABLED=0 go install "honnef.co/go/tools/cmd/staticcheck@${version}"
fi
exec 9>&-
cd "$(dirname "$0")/.."
exec "$dir/staticcheck" "$@" ./...
