package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"github.com/modelverify/modelverify/pkg/manifest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"math/big"
	"oras.land/oras-go/v2/content"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func p256() elliptic.Curve { return elliptic.P256() }
func p384() elliptic.Curve { return elliptic.P384() }

// writeTree creates files (slash paths) under a new temporary folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var sampleModel = map[string]string{
	"config.json":         `{"model_type":"bert"}`,
	"model.safetensors":   "weights weights weights weights",
	"tokenizer/vocab.txt": "a\nb\nc\n",
	"a-b/c":               "orders after a/b",
	"a/b":                 "orders before a-b/c",
	".git/HEAD":           "ref: refs/heads/main",
	".gitattributes":      "*.bin filter=lfs",
	"empty":               "",
}

// pki is a test certificate hierarchy: root -> intermediate -> leaf.
type pki struct {
	root, inter, leaf *x509.Certificate
	leafKey           *ecdsa.PrivateKey
}

func newPKI(t *testing.T, leafEKU []x509.ExtKeyUsage, leafNotAfter time.Time) *pki {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	root := mk(rootT, rootT, &rootKey.PublicKey, rootKey)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	inter := mk(interT, root, &interKey.PublicKey, rootKey)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "model signer"},
		EmailAddresses: []string{"ml-release@example.com"},
		NotBefore:      now.Add(-time.Hour), NotAfter: leafNotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: leafEKU,
	}
	leaf := mk(leafT, inter, &leafKey.PublicKey, interKey)
	return &pki{root: root, inter: inter, leaf: leaf, leafKey: leafKey}
}

type ociDesc = ocispec.Descriptor

func fetch(t *testing.T, target manifest.Target, d ocispec.Descriptor) []byte {
	t.Helper()
	b, err := content.FetchAll(context.Background(), target, d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
