#!/usr/bin/env bash
# Checks that the OMS reference tool accepts what modelverify signs, in the
# key and certificate modes: signs a model folder with modelverify, runs
# `model_signing verify` on it, then changes a byte and expects a refusal.
# It needs the reference tool's CLI on PATH (`pip install model-signing`,
# or MODEL_SIGNING=/path/to/model_signing) and openssl; without the tool it
# says so and exits 0, so it is not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
mv=${MODELVERIFY:-./bin/modelverify}
ms=${MODEL_SIGNING:-model_signing}
if ! command -v "$ms" >/dev/null 2>&1; then
  echo "reference tool '$ms' not found: nothing checked (set MODEL_SIGNING or install model-signing)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A key pair, and a certificate chain root -> intermediate -> code-signing leaf.
MODELVERIFY_PASSWORD= "$mv" keygen --output-key-prefix "$work/key" >/dev/null
(
  cd "$work"
  openssl ecparam -name prime256v1 -genkey -noout -out root.key
  openssl req -x509 -new -key root.key -subj /CN=interop-root -days 2 -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out int.key
  openssl req -new -key int.key -subj /CN=interop-intermediate -out int.csr 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n' > int.ext
  openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 -extfile int.ext -out int.pem 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out leaf.key
  openssl req -new -key leaf.key -subj /CN=interop-signer -out leaf.csr 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' > leaf.ext
  openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 2 -extfile leaf.ext -out leaf.pem 2>/dev/null
)

model() {
  local d=$work/$1
  mkdir -p "$d/sub" "$d/.git"
  printf 'first file\n' > "$d/signme-1"
  head -c 5000 /dev/urandom > "$d/sub/weights.bin"
  printf 'not signed\n' > "$d/ignore-me"
  printf 'ref: refs/heads/main\n' > "$d/.git/HEAD"
  echo "$d"
}

fail=0
check() { # name, expected exit status (0 or 1), command...
  local name=$1 want=$2 got=0
  shift 2
  "$@" >"$work/out" 2>&1 || got=$?
  if { [ "$want" -eq 0 ] && [ "$got" -eq 0 ]; } || { [ "$want" -ne 0 ] && [ "$got" -ne 0 ]; }; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $got)"; sed 's/^/     /' "$work/out"; fail=1
  fi
}

d=$(model key)
"$mv" sign --key "$work/key.key" --ignore-paths ignore-me "$d" >/dev/null
check "key mode: the reference tool verifies our signature" 0 \
  "$ms" verify key --signature "$d/model.sig" --public-key "$work/key.pub" --ignore-paths "$d/ignore-me" "$d"
printf 'X' | dd of="$d/sub/weights.bin" bs=1 seek=7 conv=notrunc 2>/dev/null
check "key mode: a changed byte is refused" 1 \
  "$ms" verify key --signature "$d/model.sig" --public-key "$work/key.pub" --ignore-paths "$d/ignore-me" "$d"

d=$(model cert)
"$mv" sign --key "$work/leaf.key" --certificate "$work/leaf.pem" --certificate-chain "$work/int.pem" \
  --ignore-paths ignore-me "$d" >/dev/null
check "certificate mode: the reference tool verifies our signature" 0 \
  "$ms" verify certificate --signature "$d/model.sig" --certificate-chain "$work/root.pem" --ignore-paths "$d/ignore-me" "$d"
printf 'X' | dd of="$d/signme-1" bs=1 seek=0 conv=notrunc 2>/dev/null
check "certificate mode: a changed byte is refused" 1 \
  "$ms" verify certificate --signature "$d/model.sig" --certificate-chain "$work/root.pem" --ignore-paths "$d/ignore-me" "$d"

exit $fail
