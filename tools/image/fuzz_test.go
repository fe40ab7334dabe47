package image_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/modelverify/modelverify/tools/image"
)

// FuzzPinDigest: whatever the manifest, PinDigest never panics, and when it
// succeeds every image line naming the repository is the digest reference.
func FuzzPinDigest(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "deployment.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("image: ghcr.io/modelverify/modelverify:v1\n"))
	f.Add([]byte("  - image: \"ghcr.io/modelverify/modelverify@sha256:" + strings.Repeat("a", 64) + "\"\n"))
	f.Add([]byte("image: ghcr.io/modelverify/modelverify-other:v1\nimage: ghcr.io/modelverify/modelverify\r\n"))
	const repo = "ghcr.io/modelverify/modelverify"
	d, _ := v1.NewHash("sha256:" + strings.Repeat("cd", 32))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := image.PinDigest(in, repo, d)
		if err != nil {
			return
		}
		refs := image.ImageRefs(out, repo)
		if len(refs) == 0 {
			t.Fatalf("pinned output names no image:\n%q", out)
		}
		for _, r := range refs {
			if r != repo+"@"+d.String() {
				t.Fatalf("image %q left unpinned in\n%q", r, out)
			}
		}
		// Pinning is idempotent.
		again, err := image.PinDigest(out, repo, d)
		if err != nil || string(again) != string(out) {
			t.Fatalf("second pin changed the manifest: %v", err)
		}
	})
}
