#!/usr/bin/env bash
# False positives on benign models made by the real libraries.
#
#   bash bench/false-positives.sh [DIR]
#
# Builds the corpus of scripts/benign-corpus.py (scikit-learn estimators,
# torchvision models, torch.nn modules, optimizers and schedulers, pandas,
# SciPy, XGBoost, ONNX node tests, HDF5) in DIR or a temporary folder, scans
# it, and prints the number of files, every file that is not clean with its
# findings, and files per second of the scan. Needs Debian's python3-sklearn,
# -torch, -torchvision, -pandas, -scipy, -xgboost, -onnx and -h5py; exits 0
# without measuring when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-/usr/bin/python3}
mv=${MODELVERIFY:-}
if ! "$py" -c 'import sklearn, torch, torchvision, pandas, scipy, xgboost, onnx, h5py' 2>/dev/null; then
	echo "false-positives: the Python libraries are not installed; nothing measured"
	exit 0
fi
[ -n "$mv" ] || { make build >/dev/null; mv=./bin/modelverify; }
if [ $# -gt 0 ]; then
	dir=$1
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
"$py" scripts/benign-corpus.py "$dir" 2>"$dir.log" || { cat "$dir.log"; exit 2; }
grep "files written" "$dir.log"
start=$(date +%s.%N)
rc=0
"$mv" scan --format json -o "$dir.json" "$dir" >/dev/null || rc=$?
end=$(date +%s.%N)
jq -r --arg secs "$(echo "$end - $start" | bc)" '
  "files: \(.summary.targets)",
  "false positives: \([.targets[] | select(.verdict != "clean")] | length)",
  (.targets[] | select(.verdict != "clean") | "  \(.path) \(.verdict): \([.findings[] | "\(.severity) \(.symbol // "") \(.ruleId)"] | join("; ")) \(.error // "")"),
  "files/s: \(.summary.targets / ($secs | tonumber) | floor) (\($secs | tonumber * 100 | floor / 100) s)"' "$dir.json"
fp=$(jq '[.targets[] | select(.verdict != "clean")] | length' "$dir.json")
rm -f "$dir.json" "$dir.log"
[ "$fp" -eq 0 ] || exit 1
