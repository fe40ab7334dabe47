#!/usr/bin/env bash
# Time `modelverify sign` over a folder of two 1 GiB files against
# `openssl dgst -sha256` over the same files, best of N runs each, with the
# files in the page cache (the hashing is what is measured, not the disk).
#
#   bash bench/sign_folder.sh [FILE_MIB] [RUNS]     (default 1024 MiB, 3 runs)
#
# The target is a wall-time ratio of at most 0.6: signing hashes the two files in
# parallel (one per core) while openssl hashes them one after the other. CPU
# time (user+sys) is printed too: on a loaded machine it shows whether the
# per-byte cost matches even when the cores are not free.
set -euo pipefail

file_mib=${1:-1024}
runs=${2:-3}
repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelverify-signbench.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$repo_root" && go build -o "$work/modelverify" ./cmd/modelverify)
mkdir -p "$work/model"
for i in 1 2; do
	head -c "$((file_mib << 20))" /dev/urandom >"$work/model/weights-$i.bin"
done
MODELVERIFY_PASSWORD= "$work/modelverify" keygen --output-key-prefix "$work/key" >/dev/null
cat "$work/model"/* >/dev/null # warm the page cache

# measure CMD... prints "wall user+sys" in seconds.
measure() {
	local TIMEFORMAT='%R %U %S'
	{ time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%s %.3f\n", $1, $2 + $3 }'
}
# best of the runs by wall time
best() { sort -g | head -1; }

for _ in $(seq "$runs"); do
	measure openssl dgst -sha256 "$work/model/weights-1.bin" "$work/model/weights-2.bin"
done | best >"$work/openssl"
for _ in $(seq "$runs"); do
	measure "$work/modelverify" sign --no-progress --key "$work/key.key" "$work/model"
done | best >"$work/sign"
for _ in $(seq "$runs"); do
	measure "$work/modelverify" verify --no-progress --key "$work/key.pub" "$work/model"
done | best >"$work/verify"

read -r o oc <"$work/openssl"
read -r s sc <"$work/sign"
read -r v vc <"$work/verify"
total_mib=$((2 * file_mib))
printf 'files: 2 x %d MiB, cores: %s, load average: %s, best of %d by wall time\n' "$file_mib" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$runs"
printf '%-22s %7s %9s %7s %9s\n' "" "wall s" "MiB/s" "cpu s" "ratio"
printf '%-22s %7.2f %9.0f %7.2f %9s\n' "openssl dgst -sha256" "$o" "$(echo "$total_mib / $o" | bc -l)" "$oc" "1.00"
printf '%-22s %7.2f %9.0f %7.2f %9.2f\n' "modelverify sign" "$s" "$(echo "$total_mib / $s" | bc -l)" "$sc" "$(echo "$s / $o" | bc -l)"
printf '%-22s %7.2f %9.0f %7.2f %9.2f\n' "modelverify verify" "$v" "$(echo "$total_mib / $v" | bc -l)" "$vc" "$(echo "$v / $o" | bc -l)"
