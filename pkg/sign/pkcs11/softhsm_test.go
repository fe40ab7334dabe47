//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/softhsm"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

func TestSignWithAKeyInASoftHSMToken(t *testing.T) {
	uri := softhsm.Token(t)
	key, closeToken, err := pkcs11.Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)
	if _, err := sign.SignFolder(context.Background(), s, dir, sign.SignFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := sign.KeyAuthority(key.Public().(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sign.NewVerifier(a)
	if _, err := v.VerifyFolder(context.Background(), dir, sign.VerifyFolderOptions{}); err != nil {
		t.Errorf("verify with the token's public key: %v", err)
	}
	other, _ := sign.GenerateKey(elliptic.P256())
	b, _ := sign.KeyAuthority(&other.PublicKey)
	vo, _ := sign.NewVerifier(b)
	if _, err := vo.VerifyFolder(context.Background(), dir, sign.VerifyFolderOptions{}); !errors.Is(err, sign.ErrSignature) {
		t.Errorf("another key: %v, want ErrSignature", err)
	}
	// A key the token does not have, and (once every session is closed) a
	// wrong PIN, are errors.
	if _, _, err := pkcs11.Open("pkcs11:token=release;object=nope?module-path=" + softhsm.Module + "&pin-value=1234"); err == nil {
		t.Error("a missing key was found")
	}
	closeToken()
	if _, _, err := pkcs11.Open("pkcs11:token=release;object=model-signing?module-path=" + softhsm.Module + "&pin-value=9999"); err == nil {
		t.Error("a wrong PIN opened the token")
	}
}

// Signing one OMS statement with a key in the token, against a key in
// memory: go test -tags pkcs11 -bench . ./pkg/sign/pkcs11
func BenchmarkSign(b *testing.B) {
	uri := softhsm.Token(b)
	key, closeToken, err := pkcs11.Open(uri)
	if err != nil {
		b.Fatal(err)
	}
	defer closeToken()
	mem, _ := sign.GenerateKey(elliptic.P256())
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)
	for name, k := range map[string]interface {
		Public() crypto.PublicKey
		Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error)
	}{"file-key": mem, "pkcs11": key} {
		b.Run(name, func(b *testing.B) {
			s, err := sign.NewCryptoSigner(k)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := sign.SignFolder(context.Background(), s, dir, sign.SignFolderOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Verifying a folder signed by the token's key: with its public key as PEM,
// and with the token's URI, the public key read from the token through
// sign.Trust for every verification (what one `modelverify verify --key
// pkcs11:...` pays).
func BenchmarkVerify(b *testing.B) {
	uri := softhsm.Token(b)
	key, closeToken, err := pkcs11.Open(uri)
	if err != nil {
		b.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("weights"), 0o644)
	if _, err := sign.SignFolder(context.Background(), s, dir, sign.SignFolderOptions{}); err != nil {
		b.Fatal(err)
	}
	pem, err := sign.MarshalPublicKeyPEM(key.Public().(*ecdsa.PublicKey))
	closeToken()
	if err != nil {
		b.Fatal(err)
	}
	for name, k := range map[string]sign.TrustedKey{"file-key": {PEM: pem}, "pkcs11": {URI: uri}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				v, err := sign.Trust{Keys: []sign.TrustedKey{k}}.Verifier(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.VerifyFolder(context.Background(), dir, sign.VerifyFolderOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
