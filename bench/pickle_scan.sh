#!/usr/bin/env bash
# Pickle scanning speed against Python baselines, in the same run, on the
# same file: an opcode-dense pickle of N small dicts (default 2,000,000,
# about 64 MiB), written by CPython's own pickler at protocol 4.
#
#   bash bench/pickle_scan.sh [N] [RUNS]
#
# Baselines, best of RUNS wall times each:
# - pickletools.genops walking every opcode: the loop that the Python
#   scanners (picklescan, modelscan) run before any analysis, so a lower
#   bound for their time;
# - picklescan and modelscan themselves when the commands `picklescan` and
#   `modelscan` are on PATH (or named by PICKLESCAN and MODELSCAN).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000000}
runs=${2:-3}
mv=${MODELVERIFY:-./bin/modelverify}
py=${PYTHON:-python3}
ps=${PICKLESCAN:-picklescan}
ms=${MODELSCAN:-modelscan}
[ -x "$mv" ] || make build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
f=$work/dense.pkl
"$py" - "$f" "$n" <<'EOF'
import pickle, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as out:
    pickle.dump([{"a": i, "b": float(i)} for i in range(n)], out, protocol=4)
EOF
size=$(stat -c %s "$f")

best() { # prints the best wall time in seconds of running "$@" $runs times
  local b=""
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    b=$(echo "$s $e ${b:-}" | awk '{t=$2-$1; if ($3=="" || t<$3) print t; else print $3}')
  done
  echo "$b"
}

t_mv=$(best "$mv" scan --quiet "$f")
t_genops=$(best "$py" -c 'import pickletools, sys
for _ in pickletools.genops(open(sys.argv[1], "rb")): pass' "$f")
t_ps="" t_ms=""
if command -v "$ps" >/dev/null 2>&1; then
  t_ps=$(best "$ps" -p "$f")
fi
if command -v "$ms" >/dev/null 2>&1; then
  t_ms=$(best "$ms" -p "$f")
fi

printf 'file: %d dicts, %.1f MiB, cores: %s, load average: %s, best of %d by wall time\n' \
  "$n" "$(echo "$size" | awk '{print $1/1048576}')" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$runs"
printf '%-34s %8s %9s %9s\n' "" "wall s" "MB/s" "speed-up"
row() { printf '%-34s %8.2f %9.0f %8.1fx\n' "$1" "$2" "$(echo "$size $2" | awk '{print $1/1e6/$2}')" "$(echo "$2 $t_mv" | awk '{print $1/$2}')"; }
row "modelverify scan" "$t_mv"
row "python pickletools.genops (bound)" "$t_genops"
if [ -n "$t_ps" ]; then row "picklescan" "$t_ps"; else echo "picklescan: not on PATH (set PICKLESCAN), not measured"; fi
if [ -n "$t_ms" ]; then row "modelscan" "$t_ms"; else echo "modelscan: not on PATH (set MODELSCAN), not measured"; fi
