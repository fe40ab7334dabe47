#!/usr/bin/env bash
# Push and pull a generated model to a local CNCF distribution registry and
# compare the throughput and peak memory with copying the same files with cp
# and with oras push/pull (v1.3.6, built once by scripts/oras.sh; ORAS names
# another binary, NO_ORAS=1 leaves it out), in one run.
#
#   bash bench/push_pull.sh [SIZE_MIB]     (default 2048; files of 512 MiB)
#
# Needs /usr/bin/docker-registry (Debian package docker-registry). Everything
# is generated under a temporary directory that is removed at exit.
set -euo pipefail

size_mib=${1:-2048}
registry_bin=${REGISTRY_BIN:-/usr/bin/docker-registry}
repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelverify-bench.XXXXXX")
registry_pid=
cleanup() {
	if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$registry_bin" ] || { echo "missing $registry_bin (apt-get install docker-registry)" >&2; exit 3; }

echo "building modelverify" >&2
(cd "$repo_root" && go build -o "$work/modelverify" ./cmd/modelverify)

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 50517)
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: bench-only
YML
"$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null

echo "generating ${size_mib} MiB of weights" >&2
mkdir -p "$work/model"
chunk=512
n=$(( (size_mib + chunk - 1) / chunk ))
left=$size_mib
for i in $(seq 1 "$n"); do
	this=$(( left < chunk ? left : chunk ))
	head -c "$(( this * 1024 * 1024 ))" /dev/urandom >"$work/model/model-$(printf %05d "$i")-of-$(printf %05d "$n").safetensors"
	left=$(( left - this ))
done
echo '{"architectures":["BenchModel"],"torch_dtype":"bfloat16"}' >"$work/model/config.json"
bytes=$(du -sb "$work/model" | cut -f1)
sync

now() { date +%s.%N; }
rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%8.1f MB/s  (%6.2f s)", b / 1e6 / s, s }'; }
# timed LABEL CMD...: prints the seconds CMD took (including sync) and keeps
# its peak resident memory in $work/rss.LABEL when /usr/bin/time exists.
timed() {
	local label=$1 t0 t1; shift
	t0=$(now)
	if [ -x /usr/bin/time ]; then /usr/bin/time -f %M -o "$work/rss.$label" "$@" >/dev/null; else "$@" >/dev/null; fi
	sync; t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
rss() { [ -f "$work/rss.$1" ] && awk '{ printf "  peak RSS %d MiB", $1 / 1024 }' "$work/rss.$1"; }

ref="oci://127.0.0.1:$port/bench/model:v1"
t_cp=$(timed cp cp -r "$work/model" "$work/copy")
t_push=$(timed push "$work/modelverify" push -q --plain-http "$work/model" "$ref")
t_repush=$(timed repush "$work/modelverify" push -q --plain-http "$work/model" "$ref")
t_pull=$(timed pull "$work/modelverify" pull -q --plain-http "$ref" "$work/pulled")
t_layout=$(timed layout "$work/modelverify" push -q "$work/model" "oci-layout://$work/layout:v1")

(cd "$work/model" && sha256sum $(ls)) >"$work/want.sum"
(cd "$work/pulled" && sha256sum -c --quiet "$work/want.sum") || { echo "pulled files differ" >&2; exit 1; }

# oras side by side, on the same files and registry: push every file as a
# layer of one artifact, then pull it.
oras=${ORAS:-}
if [ -z "$oras" ] && [ -z "${NO_ORAS:-}" ]; then
	oras=$("$repo_root/scripts/oras.sh")
fi
if [ -n "$oras" ]; then
	oref="127.0.0.1:$port/bench/oras:v1"
	t_opush=$(timed opush bash -c "cd '$work/model' && '$oras' push --plain-http --no-tty '$oref' \$(ls)")
	t_opull=$(timed opull "$oras" pull --plain-http --no-tty -o "$work/opulled" "$oref")
	(cd "$work/opulled" && sha256sum -c --quiet "$work/want.sum") || { echo "oras pulled files differ" >&2; exit 1; }
fi

printf 'model: %d bytes in %d files, registry: distribution (%s) on 127.0.0.1, %d CPUs\n' \
	"$bytes" "$(ls "$work/model" | wc -l)" "$("$registry_bin" --version 2>/dev/null | awk '{print $NF}')" "$(nproc)"
printf 'cp -r                    %s%s\n' "$(rate "$t_cp")" "$(rss cp)"
printf 'push (registry)          %s%s\n' "$(rate "$t_push")" "$(rss push)"
printf 'push again (all present) %s%s\n' "$(rate "$t_repush")" "$(rss repush)"
printf 'pull (registry)          %s%s\n' "$(rate "$t_pull")" "$(rss pull)"
printf 'push (oci-layout)        %s%s\n' "$(rate "$t_layout")" "$(rss layout)"
if [ -n "$oras" ]; then
	printf 'oras push (registry)     %s%s\n' "$(rate "$t_opush")" "$(rss opush)"
	printf 'oras pull (registry)     %s%s\n' "$(rate "$t_opull")" "$(rss opull)"
	echo "oras: $("$oras" version 2>/dev/null | head -1)"
fi
echo "pulled files are byte-identical"
