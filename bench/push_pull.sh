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
(cd "$repo_root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/modelverify" ./cmd/modelverify) # as the release builds it

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

# oras side by side, on the same files and registry: every file a layer of
# one artifact. Each push and pull runs twice, to a new repository each time,
# the two tools in turn and in the other order the second time (the first
# upload to a registry that just started, right after the files were
# written, is slower for whoever goes first); the better run counts.
oras=${ORAS:-}
if [ -z "$oras" ] && [ -z "${NO_ORAS:-}" ]; then
	oras=$("$repo_root/scripts/oras.sh")
fi
# keep LABEL SECONDS RUNLABEL: remembers the better time of LABEL and the
# peak memory of that run.
declare -A best
keep() {
	if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
		best[$1]=$2
		[ -f "$work/rss.$3" ] && cp "$work/rss.$3" "$work/rss.$1"
	fi
	return 0
}
t_cp=$(timed cp cp -r "$work/model" "$work/copy")
mv_push() { keep push "$(timed "push$1" "$work/modelverify" push -q --plain-http "$work/model" "oci://127.0.0.1:$port/bench/model$1:v1")" "push$1"; }
or_push() { keep opush "$(timed "opush$1" bash -c "cd '$work/model' && '$oras' push --plain-http --no-tty '127.0.0.1:$port/bench/oras$1:v1' \$(ls)")" "opush$1"; }
mv_pull() { rm -rf "$work/pulled"; keep pull "$(timed "pull$1" "$work/modelverify" pull -q --plain-http "oci://127.0.0.1:$port/bench/model$1:v1" "$work/pulled")" "pull$1"; }
or_pull() { rm -rf "$work/opulled"; keep opull "$(timed "opull$1" "$oras" pull --plain-http --no-tty -o "$work/opulled" "127.0.0.1:$port/bench/oras$1:v1")" "opull$1"; }
mv_push 1; [ -n "$oras" ] && or_push 1
[ -n "$oras" ] && or_push 2; mv_push 2
mv_pull 1; [ -n "$oras" ] && or_pull 1
[ -n "$oras" ] && or_pull 2; mv_pull 2
t_push=${best[push]} t_pull=${best[pull]} t_opush=${best[opush]:-} t_opull=${best[opull]:-}
ref="oci://127.0.0.1:$port/bench/model1:v1"
t_repush=$(timed repush "$work/modelverify" push -q --plain-http "$work/model" "$ref")
t_layout=$(timed layout "$work/modelverify" push -q "$work/model" "oci-layout://$work/layout:v1")

(cd "$work/model" && sha256sum $(ls)) >"$work/want.sum"
(cd "$work/pulled" && sha256sum -c --quiet "$work/want.sum") || { echo "pulled files differ" >&2; exit 1; }
if [ -n "$oras" ]; then
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
