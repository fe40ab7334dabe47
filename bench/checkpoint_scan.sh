#!/usr/bin/env bash
# Scanning a large PyTorch checkpoint against a Python baseline, in the same
# run, on the same file: torch.save of one float32 tensor of SIZE_MIB
# (default 1024) written by Debian's python3-torch.
#
#   bash bench/checkpoint_scan.sh [SIZE_MIB] [RUNS]
#
# Baselines, best of RUNS wall and CPU times each:
# - what picklescan does for a zip checkpoint, with nothing else: open it
#   with zipfile, read every .pkl member and walk its opcodes with
#   pickletools.genops (a lower bound for picklescan and modelscan, which
#   do this and then analyse);
# - picklescan and modelscan themselves when the commands `picklescan` and
#   `modelscan` are on PATH (or named by PICKLESCAN and MODELSCAN).
# Also printed: the bytes modelverify read (from /proc/PID/io), which is
# what the scan costs once the process has started.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-5}
mv=${MODELVERIFY:-./bin/modelverify}
py=${PYTHON:-/usr/bin/python3}
ps=${PICKLESCAN:-picklescan}
ms=${MODELSCAN:-modelscan}
[ -x "$mv" ] || make build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
f=$work/model.pt
"$py" - "$f" "$size_mib" <<'PY'
import sys, torch
path, mib = sys.argv[1], int(sys.argv[2])
torch.save({"weight": torch.zeros(mib * 1024 * 1024 // 4)}, path)
PY
size=$(stat -c %s "$f")
cat "$f" >/dev/null # every run reads from the page cache

best() { # prints "wall cpu" (seconds), the best of $runs runs of "$@"
  local bw="" bc=""
  for _ in $(seq "$runs"); do
    local out
    out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
    read -r w u s <<<"$out"
    local c
    c=$(echo "$u $s" | awk '{print $1+$2}')
    bw=$(echo "$w ${bw:-}" | awk '{if ($2=="" || $1<$2) print $1; else print $2}')
    bc=$(echo "$c ${bc:-}" | awk '{if ($2=="" || $1<$2) print $1; else print $2}')
  done
  echo "$bw $bc"
}

read_bytes() { # bytes modelverify reads from the file: rchar of /proc/PID/io at exit
  "$mv" scan --quiet "$f" >/dev/null 2>&1 &
  local pid=$! last=0
  while kill -0 "$pid" 2>/dev/null; do
    last=$(awk '/^rchar/ {print $2}' "/proc/$pid/io" 2>/dev/null || echo "$last")
  done
  wait "$pid" || true
  echo "$last"
}

read -r mv_w mv_c <<<"$(best "$mv" scan --quiet "$f")"
read -r ver_w ver_c <<<"$(best "$mv" version)"
read -r py_w py_c <<<"$(best "$py" -c 'import pickletools, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.endswith(".pkl"):
        for _ in pickletools.genops(z.read(n)): pass' "$f")"
printf 'file: torch.save of %d MiB (%d bytes), cores: %s, load average: %s, best of %d\n' \
  "$size_mib" "$size" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$runs"
printf '%-40s %8s %8s %9s\n' "" "wall s" "cpu s" "speed-up"
row() { printf '%-40s %8.3f %8.3f %8.1fx\n' "$1" "$2" "$3" "$(echo "$2 $mv_w" | awk '{print $1/$2}')"; }
row "modelverify scan" "$mv_w" "$mv_c"
row "modelverify version (start-up alone)" "$ver_w" "$ver_c"
row "python zipfile + genops (bound)" "$py_w" "$py_c"
for tool in "$ps" "$ms"; do
  if command -v "$tool" >/dev/null 2>&1; then
    read -r w c <<<"$(best "$tool" -p "$f")"
    row "$tool" "$w" "$c"
  else
    echo "$tool: not on PATH, not measured"
  fi
done
echo "modelverify read about $(read_bytes) bytes (rchar, the binary's own start-up reads included)"
