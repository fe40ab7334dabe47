#!/usr/bin/env bash
# False positives on benign models made by the real libraries.
#
#   bash bench/false-positives.sh [DIR]
#
# Builds the corpus of scripts/benign-corpus.py (scikit-learn estimators,
# torchvision models, torch.nn modules, optimizers and schedulers, pandas,
# SciPy, XGBoost, ONNX node tests, HDF5 and HDFStore) in DIR or a temporary
# folder, scans it with `modelverify scan --format json`, and prints the
# number of files, every file that is not clean (a verdict other than clean,
# or a finding above info) with its findings, and files per second of the
# scan. Exits 1 when there is a false positive or a generator of the corpus
# failed. Needs Debian's python3-sklearn, -torch, -torchvision, -pandas,
# -scipy, -xgboost, -onnx, -h5py and -tables; exits 0 without measuring when
# they are missing. MODELVERIFY=path uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-/usr/bin/python3}
mv=${MODELVERIFY:-}
for tool in jq bc; do
	command -v "$tool" >/dev/null || { echo "false-positives: needs $tool"; exit 2; }
done
if ! "$py" -c 'import sklearn, torch, torchvision, pandas, scipy, xgboost, onnx, h5py, tables' 2>/dev/null; then
	echo "false-positives: SKIPPED: the Python libraries (Debian's python3-sklearn, -torch, -torchvision, -pandas, -scipy, -xgboost, -onnx, -h5py, -tables) are not installed; nothing measured"
	exit 0
fi
[ -n "$mv" ] || { make build >/dev/null; mv=./bin/modelverify; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=${1:-$work/corpus}
gen=0
"$py" scripts/benign-corpus.py "$dir" 2>"$work/log" || gen=$?
if [ "$gen" -ne 0 ]; then
	cat "$work/log"
	echo "false-positives: the corpus generator failed (exit $gen); scanning what it wrote"
else
	grep -v '^  skipped' "$work/log" || true
	echo "($(grep -c '^  skipped' "$work/log" || true) constructors skipped: needs arguments or data the generator does not guess)"
fi
start=$(date +%s.%N)
rc=0
"$mv" scan --format json -o "$work/scan.json" "$dir" >/dev/null || rc=$?
end=$(date +%s.%N)
notclean='.targets[] | select(.verdict != "clean" or ([.findings[] | select(.severity != "info")] | length) > 0)'
jq -r --arg secs "$(echo "$end - $start" | bc)" "
  \"files: \(.summary.targets)\",
  \"false positives: \([$notclean] | length)\",
  ($notclean | \"  \(.path) \(.verdict): \([.findings[] | select(.severity != \"info\") | \"\(.severity) \(.ruleId) \(.symbol // \"\")\"] | unique | join(\"; \")) \(.error // \"\")\"),
  \"files/s: \(.summary.targets / (\$secs | tonumber) | floor) (\(\$secs | tonumber * 100 | floor / 100) s, scan exit $rc)\"" "$work/scan.json"
fp=$(jq "[$notclean] | length" "$work/scan.json")
[ "$fp" -eq 0 ] && [ "$gen" -eq 0 ]
