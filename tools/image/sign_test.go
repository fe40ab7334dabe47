package image_test

import (
	"context"
	"crypto/elliptic"
	"errors"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/content/oci"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/tools/image"
)

func keyPair(t *testing.T) (*sign.Signer, *sign.Verifier) {
	t.Helper()
	priv, err := sign.GenerateKey(elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sign.KeyAuthority(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(a)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestSignedIndexVerifiesInTheLayoutAndAfterPush(t *testing.T) {
	ctx := context.Background()
	signer, verifier := keyPair(t)
	_, otherVerifier := keyPair(t)
	dir := filepath.Join(t.TempDir(), "layout")
	o := testOptions(t)
	idx, _ := image.Build(o)
	if _, err := image.WriteLayout(dir, idx, "v1"); err != nil {
		t.Fatal(err)
	}
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.VerifyIndex(ctx, verifier, store, "v1"); !errors.Is(err, image.ErrUnsigned) {
		t.Fatalf("unsigned index: err = %v", err)
	}
	if _, err := image.SignIndex(ctx, signer, store, "v1", "ghcr.io/modelverify/modelverify"); err != nil {
		t.Fatal(err)
	}
	st, err := image.VerifyIndex(ctx, verifier, store, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Predicate.Resources); n != 3 { // index, linux/amd64, linux/arm64
		t.Errorf("%d resources signed", n)
	}
	if _, err := image.VerifyIndex(ctx, otherVerifier, store, "v1"); !errors.Is(err, image.ErrUnsigned) {
		t.Errorf("another key: err = %v", err)
	}
	for name, referrers := range map[string]bool{"registry with referrers": true, "registry without referrers": false} {
		t.Run(name, func(t *testing.T) {
			host := registry.NewInProcess(t, referrers)
			ref := "oci://" + host + "/modelverify/modelverify:v1"
			if _, err := image.Push(ctx, dir, "v1", ref, manifest.RegistryOptions{PlainHTTP: true}); err != nil {
				t.Fatal(err)
			}
			r, _ := manifest.ParseRef(ref)
			target, err := manifest.Open(ctx, r, manifest.RegistryOptions{PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := image.VerifyIndex(ctx, verifier, target, "v1"); err != nil {
				t.Fatalf("pushed signature: %v", err)
			}
			// The tag moved to another index: the signature does not follow.
			o2 := o
			o2.Version = "v1.2.4-evil"
			idx2, _ := image.Build(o2)
			dir2 := filepath.Join(t.TempDir(), "other")
			image.WriteLayout(dir2, idx2, "v1")
			if _, err := image.Push(ctx, dir2, "v1", ref, manifest.RegistryOptions{PlainHTTP: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := image.VerifyIndex(ctx, verifier, target, "v1"); !errors.Is(err, image.ErrUnsigned) {
				t.Fatalf("moved tag: err = %v", err)
			}
		})
	}
}
