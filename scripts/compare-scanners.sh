#!/usr/bin/env bash
# Which scanner reports which malicious file: modelverify, and picklescan and
# modelscan when they are on PATH (or named by PICKLESCAN and MODELSCAN).
#
#   scripts/compare-scanners.sh [FILE_OR_DIR...]   (default fixtures/pickle/malicious)
#
# A file counts as reported when modelverify exits 1, when picklescan counts
# it among its "Infected files", and when modelscan exits 1 (2 and 3 are its
# scan errors and "no supported files"). Every file given should be
# malicious: the table lists the ones a scanner let through.
set -euo pipefail
cd "$(dirname "$0")/.."
mv=${MODELVERIFY:-./bin/modelverify}
ps=${PICKLESCAN:-picklescan}
ms=${MODELSCAN:-modelscan}
[ -x "$mv" ] || make build >/dev/null
have_ps=0 have_ms=0
command -v "$ps" >/dev/null 2>&1 && have_ps=1
command -v "$ms" >/dev/null 2>&1 && have_ms=1
[ "$#" -gt 0 ] || set -- fixtures/pickle/malicious
files=()
for a in "$@"; do
  if [ -d "$a" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$a" -type f | sort)
  else
    files+=("$a")
  fi
done

yes_no() { [ "$1" -eq 1 ] && echo yes || echo "NO"; }
n=0 c_mv=0 c_ps=0 c_ms=0
printf '%-48s %-11s %-10s %-9s\n' "file" "modelverify" "picklescan" "modelscan"
for f in "${files[@]}"; do
  n=$((n + 1))
  rc=0; "$mv" scan --quiet "$f" >/dev/null 2>&1 || rc=$?
  r_mv=0; [ "$rc" -eq 1 ] && r_mv=1
  r_ps=-; r_ms=-
  if [ "$have_ps" -eq 1 ]; then
    r_ps=0
    "$ps" -p "$f" 2>&1 | grep -Eq 'Infected files: [1-9]' && r_ps=1
  fi
  if [ "$have_ms" -eq 1 ]; then
    rc=0; "$ms" -p "$f" >/dev/null 2>&1 || rc=$?
    r_ms=0; [ "$rc" -eq 1 ] && r_ms=1
  fi
  c_mv=$((c_mv + r_mv))
  [ "$r_ps" = - ] || c_ps=$((c_ps + r_ps))
  [ "$r_ms" = - ] || c_ms=$((c_ms + r_ms))
  if [ "$r_mv" -eq 0 ] || [ "$r_ps" = 0 ] || [ "$r_ms" = 0 ]; then
    printf '%-48s %-11s %-10s %-9s\n' "$(basename "$f")" "$(yes_no "$r_mv")" \
      "$([ "$r_ps" = - ] && echo - || yes_no "$r_ps")" "$([ "$r_ms" = - ] && echo - || yes_no "$r_ms")"
  fi
done
echo
echo "reported, of $n malicious files: modelverify $c_mv" \
  "$([ "$have_ps" -eq 1 ] && echo ", picklescan $c_ps" || echo ", picklescan not on PATH")" \
  "$([ "$have_ms" -eq 1 ] && echo ", modelscan $c_ms" || echo ", modelscan not on PATH")"
