package kms_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/modelverify/modelverify/internal/testutil/localkms"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
)

func TestIsURI(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"awskms:///alias/release", true},
		{"awskms://kms.eu-west-1.amazonaws.com/alias/release", true},
		{"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", true},
		{"azurekms://release.vault.azure.net/model-signing", true},
		{"hashivault://model-signing", true},
		{"openbao://model-signing", true},
		{"awskms:/alias/release", false}, // not the scheme: a file name
		{"AWSKMS:///alias/release", false},
		{"alikms://key", false},
		{"pkcs11:token=t;object=o", false},
		{"release.pem", false},
		{"", false},
	} {
		if got := kms.IsURI(tc.s); got != tc.want {
			t.Errorf("IsURI(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, uri := range []string{
		"awskms:///alias/release",
		"awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
		"awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"awskms://localhost:4566/alias/release",
		"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
		"azurekms://release.vault.azure.net/model-signing",
		"hashivault://model-signing",
	} {
		if err := kms.Validate(uri); err != nil {
			t.Errorf("Validate(%q): %v", uri, err)
		}
	}
	for _, tc := range []struct{ uri, want string }{
		{"awskms:///not-a-key-id", "awskms://[ENDPOINT]/"},
		{"awskms://", "awskms://[ENDPOINT]/"},
		{"gcpkms://projects/p/keyRings/r", "gcpkms://projects/P/locations/L/"},
		{"azurekms://vault-only", "azurekms://VAULT"},
		{"hashivault://a/b", "hashivault://KEY"},
		{"alikms://key", "does not start with awskms://"},
		{"awskms:///alias/" + strings.Repeat("a", 5000), "longer than"},
	} {
		err := kms.Validate(tc.uri)
		if !errors.Is(err, kms.ErrURI) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%.40q) = %v, want ErrURI saying %q", tc.uri, err, tc.want)
		}
	}
}

// A malformed URI fails before anything is contacted, for signing and for
// fetching the public key.
func TestOpenMalformed(t *testing.T) {
	ctx := context.Background()
	if _, err := kms.Open(ctx, "awskms:///nope"); !errors.Is(err, kms.ErrURI) {
		t.Errorf("Open: %v, want ErrURI", err)
	}
	if _, err := kms.PublicKey(ctx, "gcpkms://nope"); !errors.Is(err, kms.ErrURI) {
		t.Errorf("PublicKey: %v, want ErrURI", err)
	}
}

// A folder signed with a key in local-kms verifies with the key's public
// key, fetched from the service or exported by it.
func TestSignFolderWithLocalKMS(t *testing.T) {
	srv := localkms.Start(t)
	key := srv.CreateKey(t, "release", types.KeySpecEccNistP256)
	ctx := context.Background()

	for _, uri := range []string{key.AliasURI, key.IDURI, "awskms:///" + key.ARN} {
		pub, err := kms.PublicKey(ctx, uri)
		if err != nil {
			t.Fatalf("PublicKey(%s): %v", uri, err)
		}
		if !pub.Equal(key.Public) {
			t.Errorf("PublicKey(%s) is not the key's public key", uri)
		}
	}

	priv, err := kms.Open(ctx, key.AliasURI)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	model := t.TempDir()
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("weights"), 0o644)
	if _, err := sign.SignFolder(ctx, s, model, sign.SignFolderOptions{}); err != nil {
		t.Fatalf("sign: %v", err)
	}
	a, err := sign.KeyAuthority(key.Public)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyFolder(ctx, model, sign.VerifyFolderOptions{}); err != nil {
		t.Errorf("verify: %v", err)
	}

	// Another key of the service does not verify it.
	other := srv.CreateKey(t, "other", types.KeySpecEccNistP256)
	oa, _ := sign.KeyAuthority(other.Public)
	ov, _ := sign.NewVerifier(oa)
	if _, err := ov.VerifyFolder(ctx, model, sign.VerifyFolderOptions{}); !sign.IsVerificationError(err) {
		t.Errorf("verify with another key: %v, want a verification error", err)
	}
}

// A P-384 key signs SHA-384 digests (Sign checks each signature against
// the public key before returning it).
func TestSignerP384(t *testing.T) {
	srv := localkms.Start(t)
	key := srv.CreateKey(t, "p384", types.KeySpecEccNistP384)
	priv, err := kms.Open(context.Background(), key.IDURI)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public.Equal(priv.Public()) {
		t.Fatal("Public is not the key's public key")
	}
	h := crypto.SHA384.New()
	h.Write([]byte("payload"))
	if _, err := priv.Sign(rand.Reader, h.Sum(nil), crypto.SHA384); err != nil {
		t.Fatalf("sign: %v", err)
	}
	if _, err := sign.NewCryptoSigner(priv); err != nil {
		t.Errorf("NewCryptoSigner: %v", err)
	}
}

// Keys that are missing, or that cannot sign models, are errors that name
// the key.
func TestKeyErrors(t *testing.T) {
	srv := localkms.Start(t)
	rsa := srv.CreateKey(t, "rsa", types.KeySpecRsa2048)
	ctx := context.Background()
	if _, err := kms.Open(ctx, "awskms:///alias/missing"); err == nil || !strings.Contains(err.Error(), "alias/missing") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := kms.PublicKey(ctx, rsa.AliasURI); err == nil || !strings.Contains(err.Error(), "only ECDSA keys") {
		t.Errorf("RSA key: %v", err)
	}
	// A cancelled context stops the calls.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kms.PublicKey(cctx, rsa.AliasURI); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
