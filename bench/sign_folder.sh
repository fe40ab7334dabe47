#!/usr/bin/env bash
# Time `modelverify sign` over a folder of two 1 GiB files against
# `openssl dgst -sha256` over the same files, best of N runs each, with the
# files in the page cache (the hashing is what is measured, not the disk).
#
#   bash bench/sign_folder.sh [FILE_MIB] [RUNS]     (default 1024 MiB, 3 runs)
#
# The target is a ratio of at most 0.6: signing hashes the two files in
# parallel (one per core) while openssl hashes them one after the other.
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

now() { date +%s.%N; }
best() { sort -g | head -1; }

for _ in $(seq "$runs"); do
	s=$(now)
	openssl dgst -sha256 "$work/model/weights-1.bin" "$work/model/weights-2.bin" >/dev/null
	e=$(now)
	echo "$e - $s" | bc
done | best >"$work/openssl"

for _ in $(seq "$runs"); do
	s=$(now)
	"$work/modelverify" sign --no-progress --key "$work/key.key" "$work/model" >/dev/null
	e=$(now)
	echo "$e - $s" | bc
done | best >"$work/sign"

for _ in $(seq "$runs"); do
	s=$(now)
	"$work/modelverify" verify --no-progress --key "$work/key.pub" "$work/model" >/dev/null
	e=$(now)
	echo "$e - $s" | bc
done | best >"$work/verify"

o=$(cat "$work/openssl") s=$(cat "$work/sign") v=$(cat "$work/verify")
total_mib=$((2 * file_mib))
printf 'files: 2 x %d MiB, cores: %s, best of %d\n' "$file_mib" "$(nproc)" "$runs"
printf 'openssl dgst -sha256   %6.2f s  %6.0f MiB/s\n' "$o" "$(echo "$total_mib / $o" | bc -l)"
printf 'modelverify sign       %6.2f s  %6.0f MiB/s  ratio %.2f\n' "$s" "$(echo "$total_mib / $s" | bc -l)" "$(echo "$s / $o" | bc -l)"
printf 'modelverify verify     %6.2f s  %6.0f MiB/s  ratio %.2f\n' "$v" "$(echo "$total_mib / $v" | bc -l)" "$(echo "$v / $o" | bc -l)"
