//go:build pkcs11 && cgo

package main

import (
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/softhsm"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

// sign --key pkcs11:... signs with the token's key, and verify --key with
// its public key, or with the same URI, accepts the model.
func TestSignWithAPKCS11Token(t *testing.T) {
	uri := softhsm.Token(t)
	key, closeToken, err := pkcs11.Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := sign.MarshalPublicKeyPEM(key.Public().(*ecdsa.PublicKey))
	closeToken()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub := filepath.Join(dir, "token.pub")
	os.WriteFile(pub, pem, 0o644)
	model := filepath.Join(dir, "model")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("weights"), 0o644)
	if _, errOut, code := runCLI(t, "sign", "--key", uri, model); code != 0 {
		t.Fatalf("sign: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "verify", "--key", pub, model); code != 0 {
		t.Errorf("verify: exit %d %s", code, errOut)
	}
	// verify reads the public key from the token itself.
	if _, errOut, code := runCLI(t, "verify", "--key", uri, model); code != 0 {
		t.Errorf("verify --key %s: exit %d %s", uri, code, errOut)
	}
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("tampered"), 0o644)
	if _, _, code := runCLI(t, "verify", "--key", pub, model); code != 1 {
		t.Errorf("tampered: exit %d, want 1", code)
	}
}
