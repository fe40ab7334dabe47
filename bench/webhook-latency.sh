#!/usr/bin/env bash
# Tail latency of `modelverify webhook` under load: a signed, scan-attested
# model is pushed to a local CNCF distribution registry, the webhook serves
# /validate over TLS, and hey POSTs AdmissionReviews of a Pod that names the
# model by digest at each rate for DURATION. The first request warms the
# cache; the figures are for cached decisions (admissions), then for a flood
# of denials of one unsigned model (the cache of denials).
#
#   bash bench/webhook-latency.sh [DURATION] [RATE...]   (default 10s, 200 1000)
#
# Needs /usr/bin/docker-registry (Debian package docker-registry), openssl,
# and hey (built and cached by scripts/hey.sh). Prints, per rate, the
# requests per second reached, p50/p99/max, non-200 answers and the
# webhook's peak resident memory. Everything lives in a temporary folder
# that is removed at exit.
set -euo pipefail

duration=${1:-10s}
shift || true
rates=("${@:-200 1000}")
read -r -a rates <<<"${rates[*]}"
registry_bin=${REGISTRY_BIN:-/usr/bin/docker-registry}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelverify-latency.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$registry_bin" ] || { echo "missing $registry_bin (apt-get install docker-registry)" >&2; exit 3; }
hey=${HEY:-$("$root/scripts/hey.sh")}
echo "building modelverify" >&2
(cd "$root" && go build -o "$work/modelverify" ./cmd/modelverify)
mv="$work/modelverify"

freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
waitfor() { for _ in $(seq 200); do curl -ksfS "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; curl -ksfS "$1" >/dev/null; }

rport=$(freeport)
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$rport, secret: bench-only}
YML
"$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
waitfor "http://127.0.0.1:$rport/v2/"
host=127.0.0.1:$rport

MODELVERIFY_PASSWORD= "$mv" keygen --output-key-prefix "$work/release" >/dev/null
"$mv" push --quiet --plain-http "$root/fixtures/demo/tiny-mlp" "oci://$host/models/good:v1" >/dev/null
"$mv" sign --plain-http --key "$work/release.key" "oci://$host/models/good:v1" >/dev/null
"$mv" scan --plain-http --attest --key "$work/release.key" "oci://$host/models/good:v1" >/dev/null
mkdir -p "$work/unsigned" && cp -r "$root/fixtures/demo/tiny-mlp/." "$work/unsigned/" && echo '{"copy":1}' >"$work/unsigned/extra.json"
"$mv" push --quiet --plain-http "$work/unsigned" "oci://$host/models/unsigned:v1" >/dev/null
digest() { "$mv" inspect --plain-http --format json "oci://$host/models/$1:v1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'; }
good=$(digest good)
unsigned=$(digest unsigned)

cat >"$work/policy.yaml" <<YML
apiVersion: modelverify.dev/v1alpha1
kind: ModelPolicy
metadata: {name: bench}
spec:
  rules:
    - name: models
      match: ["$host/models/**"]
      authorities: [{name: release, key: {path: $work/release.pub}}]
      scan: {required: true, maxSeverity: medium}
YML
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=modelverify-bench \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
wport=$(freeport)
"$mv" webhook --policy "$work/policy.yaml" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
	--addr "127.0.0.1:$wport" --plain-http --log-json >"$work/webhook.log" 2>&1 &
wpid=$!
pids+=($wpid)
waitfor "https://127.0.0.1:$wport/readyz"

review() { # review FILE IMAGE
	cat >"$1" <<JSON
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b7d5a1c4-0000-4000-8000-000000000001",
"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
"namespace":"ml","operation":"CREATE","userInfo":{"username":"bench"},
"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench","namespace":"ml"},
"spec":{"containers":[{"name":"app","image":"$2"}]}}}}
JSON
}
review "$work/good.json" "$host/models/good@$good"
review "$work/unsigned.json" "$host/models/unsigned@$unsigned"
# Warm both caches, and check the answers.
url="https://127.0.0.1:$wport/validate"
curl -ksfS -H 'Content-Type: application/json' --data-binary @"$work/good.json" "$url" | grep -q '"allowed":true' ||
	{ echo "the signed model was not admitted" >&2; cat "$work/webhook.log" >&2; exit 1; }
curl -ksfS -H 'Content-Type: application/json' --data-binary @"$work/unsigned.json" "$url" | grep -q '"allowed":false' ||
	{ echo "the unsigned model was not denied" >&2; exit 1; }

peak_rss() { awk '/VmHWM/ {print $2/1024 " MiB"}' "/proc/$wpid/status"; }
run() { # run LABEL BODY RATE
	local label=$1 body=$2 rate=$3 workers=50
	# hey's -q is per worker: 50 workers at RATE/50 each.
	"$hey" -z "$duration" -c "$workers" -q $((rate / workers)) -m POST -T application/json -D "$body" "$url" >"$work/hey.out"
	awk -v label="$label" -v rate="$rate" -v rss="$(peak_rss)" '
		/Requests\/sec:/ {rps=$2}
		/Slowest:/ {max=$2}
		/ 50%+ in / {p50=$3}
		/ 99%+ in / {p99=$3}
		/^ *\[[0-9]+\]\t[0-9]+ responses/ {if ($1 == "[200]") ok=$2; else bad+=$2}
		/Error distribution/ {errs=1}
		END {printf "%-10s target %5d req/s: %7.1f req/s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms  200s %d  other %d  peak RSS %s%s\n",
			label, rate, rps, p50*1000, p99*1000, max*1000, ok, bad, rss, (errs ? "  (errors, see hey output)" : "")}' "$work/hey.out"
	if grep -q "Error distribution" "$work/hey.out"; then sed -n '/Error distribution/,$p' "$work/hey.out" | head -5; fi
}
echo "webhook latency, $(nproc) cores, hey and webhook on the same machine, $duration per rate"
for r in "${rates[@]}"; do run admitted "$work/good.json" "$r"; done
for r in "${rates[@]}"; do run denied "$work/unsigned.json" "$r"; done
curl -ksS "https://127.0.0.1:$wport/metrics" | grep '^modelverify_admission_cache_requests_total'
