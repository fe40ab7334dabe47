package sign_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/sign"
)

func TestCosignEncryptedKeys(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "cosign", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name, key, pub, password string
		wantErr                  error
	}{
		{"a cosign key opens with its password", "pw.key", "pw.pub", "modelverify-test", nil},
		{"a cosign key made without a password opens with none", "nopw.key", "nopw.pub", "", nil},
		{"a wrong password is refused", "pw.key", "", "wrong", sign.ErrPassword},
		{"a missing password is refused", "pw.key", "", "", sign.ErrPassword},
		{"a password where none was set is refused", "nopw.key", "", "x", sign.ErrPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, err := sign.ParsePrivateKeyPEM(read(tt.key), []byte(tt.password))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pub, err := sign.ParsePublicKeyPEM(read(tt.pub))
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Equal(&priv.PublicKey) {
				t.Fatal("the private key does not match cosign's public key")
			}
		})
	}
	// Tampered scrypt parameters (a memory bomb) are refused before any
	// key derivation.
	bomb := []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" +
		"eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjoxMDczNzQxODI0LCJyIjo4LCJwIjoxfSwic2FsdCI6IkFBQUEifSwiY2lwaGVyIjp7Im5hbWUiOiJuYWNsL3NlY3JldGJveCIsIm5vbmNlIjoiQUFBQSJ9LCJjaXBoZXJ0ZXh0IjoiQUFBQSJ9\n" +
		"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	if _, err := sign.ParsePrivateKeyPEM(bomb, []byte("x")); !errors.Is(err, sign.ErrPassword) {
		t.Errorf("scrypt N=2^30: err = %v", err)
	}
}
