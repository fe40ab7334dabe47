package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	testpki "github.com/modelverify/modelverify/internal/testutil/pki"
	"github.com/modelverify/modelverify/pkg/manifest"
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
	ca := testpki.NewCA(t, pkix.Name{CommonName: "test root"}, pkix.Name{CommonName: "test intermediate"})
	leaf, leafKey := ca.Issue(t, testpki.Leaf{
		Subject: pkix.Name{CommonName: "model signer"}, Emails: []string{"ml-release@example.com"},
		ExtKeyUsage: leafEKU, NotAfter: leafNotAfter,
	})
	return &pki{root: ca.Root, inter: ca.Intermediate, leaf: leaf, leafKey: leafKey}
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
