//go:build pkcs11 && cgo

// Package softhsm makes a real PKCS#11 token for tests: a SoftHSM2 token in
// a temporary folder holding an ECDSA P-256 key pair.
package softhsm

import (
	"crypto/elliptic"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ThalesGroup/crypto11"
)

// Module is Debian's SoftHSM2 PKCS#11 library.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Token initialises a token labelled "release" (user PIN 1234) with an
// ECDSA P-256 key pair labelled "model-signing", and returns the key's
// PKCS#11 URI. It skips when SoftHSM2 is not installed, unless
// MODELVERIFY_INTEGRATION=require.
func Token(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Module); err != nil {
		if os.Getenv("MODELVERIFY_INTEGRATION") == "require" {
			t.Fatalf("softhsm2 is not installed: %v", err)
		}
		t.Skipf("softhsm2 is not installed: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "release", "--pin", "1234", "--so-pin", "0000").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: Module, TokenLabel: "release", Pin: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if _, err := ctx.GenerateECDSAKeyPairWithLabel([]byte{1}, []byte("model-signing"), elliptic.P256()); err != nil {
		t.Fatal(err)
	}
	return "pkcs11:token=release;object=model-signing?module-path=" + Module + "&pin-value=1234"
}
