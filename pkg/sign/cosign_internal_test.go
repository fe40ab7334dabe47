package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sgsign "github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
)

// cosignStyleSigner signs as `cosign sign --key` v3 does: the bundle's key
// hint is cosign's (base64 SHA-256 of the DER public key).
func cosignStyleSigner(t *testing.T, priv *ecdsa.PrivateKey) *Signer {
	t.Helper()
	kp, err := newECKeypair(priv)
	if err != nil {
		t.Fatal(err)
	}
	if kp.hint, err = CosignKeyHint(&priv.PublicKey); err != nil {
		t.Fatal(err)
	}
	return &Signer{keypair: func() (sgsign.Keypair, error) { return kp, nil }}
}

func TestCosignStyleSignatureVerifies(t *testing.T) {
	ctx := context.Background()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.bin"), []byte("w"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref, _ := manifest.ParseRef("oci://" + registry.NewInProcess(t, true) + "/models/m:v1")
	target, err := manifest.Open(ctx, ref, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := manifest.Push(ctx, dir, target, ref, manifest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The statement as cosign marshals it (protojson: no subject name, a
	// subject annotation from -a, an empty predicate).
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + desc.Digest.Encoded() +
		`"},"annotations":{"team":"ml"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`)
	b, err := cosignStyleSigner(t, priv).Sign(ctx, json.RawMessage(payload))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PushBundle(ctx, target, desc, b, PredicateTypeManifest); err != nil {
		t.Fatal(err)
	}
	a, err := KeyAuthority(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(a)
	res, err := v.VerifyOCI(ctx, target, desc)
	if err != nil {
		t.Fatalf("cosign-style signature: %v", err)
	}
	if res.PredicateType != PredicateTypeManifest || res.ManifestDigest != desc.Digest.String() {
		t.Errorf("result %+v", res)
	}

	// A hint that names another key is refused before any signature check.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oa, _ := KeyAuthority(&other.PublicKey)
	ov, _ := NewVerifier(oa)
	if _, err := ov.VerifyOCI(ctx, target, desc); !errors.Is(err, ErrSignature) {
		t.Errorf("another key: err = %v, want ErrSignature", err)
	}
	pb, _ := ParseBundle(b)
	if _, err := a.(*keyAuthority).v.Verify(pb, a.(*keyAuthority).policy); err != nil {
		t.Errorf("sigstore-go with cosign's hint: %v", err)
	}
}

func TestKeyHintForms(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	omsHint, _ := KeyHint(&priv.PublicKey)
	cosignHint, _ := CosignKeyHint(&priv.PublicKey)
	tests := []struct {
		name         string
		ours, theirs string
		want         bool
	}{
		{"the OMS hex hint matches", omsHint, omsHint, true},
		{"the OMS hex hint matches in upper case", omsHint, strings.ToUpper(omsHint), true},
		{"cosign's base64 hint matches exactly", cosignHint, cosignHint, true},
		{"cosign's base64 hint is case sensitive", cosignHint, strings.ToUpper(cosignHint), cosignHint == strings.ToUpper(cosignHint)},
		{"one key's hints do not match each other", omsHint, cosignHint, false},
	}
	for _, tt := range tests {
		if got := hintMatches(tt.ours, tt.theirs); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}
