#!/usr/bin/env bash
# The README's first command: scan a model, then push it to a local OCI
# layout, sign it with a fresh key pair and verify it. No server, no account:
# everything happens in a temporary folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
mv=${MODELVERIFY:-./bin/modelverify}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r fixtures/demo/tiny-mlp "$work/model"
layout="oci-layout://$work/layout:tiny-mlp"

step() { printf '\n== %s\n' "$*"; }

step "scan the model folder"
"$mv" scan "$work/model"

step "scan a malicious pickle (exit code 1 is the expected answer)"
rc=0
"$mv" scan fixtures/pickle/malicious/os_system_v4.pkl || rc=$?
[ "$rc" -eq 1 ] || { echo "expected exit code 1, got $rc" >&2; exit 1; }

step "make a key pair"
MODELVERIFY_PASSWORD= "$mv" keygen --output-key-prefix "$work/demo"

step "push the model to a local OCI layout"
"$mv" push --quiet "$work/model" "$layout"
"$mv" inspect "$layout"

step "sign it, and attest a clean scan"
"$mv" sign --key "$work/demo.key" "$layout"
"$mv" scan --attest --key "$work/demo.key" "$layout"

step "verify the signature and the scan attestation"
"$mv" verify --key "$work/demo.pub" --require-scan=high "$layout"

step "tamper with a file and verify the folder signature fails"
"$mv" sign --key "$work/demo.key" "$work/model"
"$mv" verify --key "$work/demo.pub" "$work/model"
printf 'x' >> "$work/model/config.json"
rc=0
"$mv" verify --key "$work/demo.pub" "$work/model" || rc=$?
[ "$rc" -eq 1 ] || { echo "expected exit code 1 after tampering, got $rc" >&2; exit 1; }

printf '\ndemo finished: scan, push, sign, attest and verify all behaved as expected\n'
