#!/usr/bin/env bash
# Builds (once) and caches the Kubernetes API server used by the admission
# end-to-end test, next to a link to Debian's etcd, and prints the folder.
# The folder is what envtest expects in KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS=$(scripts/kube-apiserver.sh)
#
# The binary comes from tools/kube-apiserver (a separate module pinning
# k8s.io/kubernetes). A cold build takes several minutes; later runs reuse
# the cached binary. Override the folder with MODELVERIFY_KUBE_ASSETS, the
# build parallelism with KUBE_BUILD_JOBS (default 1: the build is large and
# runs at the lowest priority so that it does not starve other work).
set -euo pipefail

version=v1.37.2
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MODELVERIFY_KUBE_ASSETS:-${HOME}/.cache/modelverify/kube-apiserver-${version}}
etcd=${ETCD:-/usr/bin/etcd}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -x "$dir/kube-apiserver" ]]; then
  echo "building kube-apiserver ${version} into $dir (several minutes)" >&2
  pkg=k8s.io/component-base/version
  minor=${version#v1.}; minor=${minor%%.*}
  ldflags="-s -w -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean"
  (
    cd "$root/tools/kube-apiserver"
    CGO_ENABLED=0 nice -n 19 go build -p "${KUBE_BUILD_JOBS:-1}" -trimpath -ldflags "$ldflags" \
      -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
fi

if [[ ! -e "$dir/etcd" ]]; then
  if [[ -x "$etcd" ]]; then
    ln -sf "$etcd" "$dir/etcd"
  else
    echo "warning: no etcd at $etcd (Debian package etcd-server); the admission end-to-end test will not run" >&2
  fi
fi

echo "$dir"
