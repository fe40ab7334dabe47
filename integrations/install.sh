#!/usr/bin/env bash
# Installs a pinned modelverify release binary and checks it against the
# release's checksums.txt (and against MV_SHA256 when that is set).
#
#   MV_VERSION=v0.1.0 MV_TOOL_DIR=/opt/modelverify integrations/install.sh
#
# Environment: MV_VERSION (required), MV_TOOL_DIR (required: where the binary
# goes), MV_SHA256 (optional pin of the binary's sha256), MV_DOWNLOAD_URL
# (default the GitHub releases), MV_OS and MV_ARCH (default this machine).
# The GitHub Action runs this script; GitLab CI and other pipelines can too.
set -euo pipefail
: "${MV_VERSION:?set MV_VERSION to the release to install, e.g. v0.1.0}"
: "${MV_TOOL_DIR:?set MV_TOOL_DIR to the folder the binary goes to}"
MV_DOWNLOAD_URL=${MV_DOWNLOAD_URL:-https://github.com/modelverify/modelverify/releases/download}
os=${MV_OS:-$(uname -s | tr '[:upper:]' '[:lower:]')}
arch=${MV_ARCH:-$(uname -m)}
case "$os" in linux|darwin) ;; mingw*|msys*|cygwin*|windows) os=windows ;;
  *) echo "modelverify install: unsupported OS $os" >&2; exit 1 ;; esac
case "$arch" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;;
  *) echo "modelverify install: unsupported architecture $arch" >&2; exit 1 ;; esac
asset="modelverify-${os}-${arch}"
exe=modelverify
if [ "$os" = windows ]; then asset="${asset}.exe"; exe=modelverify.exe; fi
mkdir -p "$MV_TOOL_DIR"
if [ -x "$MV_TOOL_DIR/$exe" ] && "$MV_TOOL_DIR/$exe" version 2>/dev/null | grep -qx "modelverify $MV_VERSION"; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base="${MV_DOWNLOAD_URL%/}/${MV_VERSION}"
curl -fsSL --retry 3 -o "$tmp/checksums.txt" "$base/checksums.txt"
curl -fsSL --retry 3 -o "$tmp/$asset" "$base/$asset"
want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$tmp/checksums.txt")
got=$(sha256sum "$tmp/$asset" 2>/dev/null | awk '{ print $1 }' || shasum -a 256 "$tmp/$asset" | awk '{ print $1 }')
if [ -z "$want" ] || [ "$want" != "$got" ]; then
  echo "modelverify install: $asset: sha256 $got does not match checksums.txt (${want:-no entry})" >&2
  exit 1
fi
if [ -n "${MV_SHA256:-}" ] && [ "$MV_SHA256" != "$got" ]; then
  echo "modelverify install: $asset: sha256 $got is not the pinned $MV_SHA256" >&2
  exit 1
fi
install -m 0755 "$tmp/$asset" "$MV_TOOL_DIR/$exe"
