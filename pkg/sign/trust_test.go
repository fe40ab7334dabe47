package sign_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

// A Trust accepts exactly the signers it names, whichever kind of trust
// they come from, and tells a configuration error from a key service that
// could not answer.
func TestTrustBuildsTheAuthoritiesItNames(t *testing.T) {
	ctx := context.Background()
	dir := writeTree(t, map[string]string{"model.safetensors": "weights"})
	priv, err := sign.GenerateKey(p256())
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	pem := func(t *testing.T) []byte {
		other, err := sign.GenerateKey(p256())
		if err != nil {
			t.Fatal(err)
		}
		b, err := sign.MarshalPublicKeyPEM(&other.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	signerPEM, err := sign.MarshalPublicKeyPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	verifies := func(t *testing.T, tr sign.Trust) error {
		v, err := tr.Verifier(ctx)
		if err != nil {
			t.Fatalf("Verifier: %v", err)
		}
		_, err = v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
		return err
	}
	if err := verifies(t, sign.Trust{Keys: []sign.TrustedKey{{Name: "signer.pub", PEM: signerPEM}}}); err != nil {
		t.Errorf("the signer's key: %v", err)
	}
	if err := verifies(t, sign.Trust{Keys: []sign.TrustedKey{{PEM: pem(t)}, {PEM: signerPEM}}}); err != nil {
		t.Errorf("another key and the signer's: %v", err)
	}
	if err := verifies(t, sign.Trust{Keys: []sign.TrustedKey{{PEM: pem(t)}}}); !errors.Is(err, sign.ErrSignature) {
		t.Errorf("another key: %v, want ErrSignature", err)
	}
	pk := newPKI(t, nil, time.Now().Add(time.Hour))
	if err := verifies(t, sign.Trust{CertificateRoots: []*x509.Certificate{pk.root}}); !errors.Is(err, sign.ErrSignature) {
		t.Errorf("certificate roots for a key signature: %v, want ErrSignature", err)
	}

	// Configuration errors, none of them a key service's.
	closed := closedPort(t)
	for name, tr := range map[string]sign.Trust{
		"nothing":                         {},
		"identities without roots":        {CertificateIdentities: []sign.Identity{{Subject: "a@example.com", IssuerRegexp: ".*"}}},
		"keyless identities without root": {KeylessIdentities: []sign.Identity{{Subject: "a@example.com", Issuer: "https://issuer"}}},
		"a key that is not PEM":           {Keys: []sign.TrustedKey{{Name: "bad.pub", PEM: []byte("not a key")}}},
		"a key with both PEM and a URI":   {Keys: []sign.TrustedKey{{PEM: signerPEM, URI: "awskms:///alias/x"}}},
		"a malformed KMS URI":             {Keys: []sign.TrustedKey{{URI: "awskms://"}}},
		"an unknown scheme":               {Keys: []sign.TrustedKey{{URI: "alikms://key"}}},
		"a malformed PKCS#11 URI":         {Keys: []sign.TrustedKey{{URI: "pkcs11:token"}}},
	} {
		if _, err := tr.Verifier(ctx); err == nil || errors.Is(err, sign.ErrKeyService) {
			t.Errorf("%s: %v, want a configuration error", name, err)
		}
	}

	// A KMS that does not answer is the key service's failure.
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://"+closed)
	t.Setenv("AWS_REGION", "eu-west-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	short, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = sign.Trust{Keys: []sign.TrustedKey{{URI: "awskms:///alias/release"}}}.Verifier(short)
	if !errors.Is(err, sign.ErrKeyService) || !strings.Contains(err.Error(), "alias/release") {
		t.Errorf("unreachable KMS: %v, want ErrKeyService naming the key", err)
	}
}

// A PKCS#11 key whose module cannot be loaded is refused: in the default
// build as not built (a configuration error), with -tags pkcs11 as the
// token's failure.
func TestTrustPKCS11KeyThatCannotBeOpened(t *testing.T) {
	_, err := sign.Trust{Keys: []sign.TrustedKey{{URI: "pkcs11:token=t;object=k?module-path=/nonexistent.so&pin-value=1"}}}.Verifier(context.Background())
	notBuilt, service := errors.Is(err, pkcs11.ErrNotBuilt), errors.Is(err, sign.ErrKeyService)
	if notBuilt == service {
		t.Errorf("got %v, want ErrNotBuilt or ErrKeyService", err)
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
