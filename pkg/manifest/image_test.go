package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2"

	"github.com/modelverify/modelverify/internal/testutil/modelcar"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

// modelcarRef stores the standard modelcar and returns a target and ref for
// it: a local layout, or an in-process registry it was copied to.
func modelcarRef(t *testing.T, oci, viaRegistry bool) (Target, Ref) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	modelcar.WriteLayout(t, dir, "v1", modelcar.Standard(t, oci, []byte("not really a pickle")))
	src, ref := openRef(t, "oci-layout://"+dir+":v1", RegistryOptions{})
	if !viaRegistry {
		return src, ref
	}
	dst, dref := openRef(t, "oci://"+registry.NewInProcess(t, true)+"/models/car:v1", RegistryOptions{PlainHTTP: true})
	if _, err := oras.Copy(context.Background(), src, "v1", dst, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	return dst, dref
}

func TestPullExtractsAModelcarWithItsWhiteouts(t *testing.T) {
	for _, oci := range []bool{true, false} {
		for _, viaRegistry := range []bool{false, true} {
			name := map[bool]string{true: "OCI image", false: "Docker image"}[oci] + map[bool]string{true: " in a registry", false: " in a layout"}[viaRegistry]
			t.Run(name, func(t *testing.T) {
				target, ref := modelcarRef(t, oci, viaRegistry)
				dst := filepath.Join(t.TempDir(), "out")
				res, err := PullModel(context.Background(), target, ref, dst, PullOptions{ImagePath: "/models"})
				if err != nil {
					t.Fatal(err)
				}
				got := readTree(t, dst)
				want := map[string]string{
					"model.safetensors": "weights v2",
					"config.json":       `{"model_type":"test"}`,
					"sub/keep.txt":      "kept",
					"extra/evil.pkl":    "not really a pickle",
				}
				if len(got) != len(want) {
					t.Errorf("pulled %d files %v, want %v", len(got), got, want)
				}
				for p, b := range want {
					if string(got[p]) != b {
						t.Errorf("%s = %q, want %q", p, got[p], b)
					}
				}
				if _, err := os.Lstat(filepath.Join(dst, "link")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a symlink in the image was created: %v", err)
				}
				if len(res.Resources) != len(want) {
					t.Errorf("resources %v", res.Resources)
				}
				fromFolder, err := FolderResources(context.Background(), dst, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range fromFolder {
					if fromFolder[i] != res.Resources[i] {
						t.Errorf("resource %d: folder %v, pull %v", i, fromFolder[i], res.Resources[i])
					}
				}

				// Without --path the whole filesystem comes out.
				all := filepath.Join(t.TempDir(), "all")
				if err := Pull(context.Background(), target, ref, all, PullOptions{}); err != nil {
					t.Fatal(err)
				}
				tree := readTree(t, all)
				if string(tree["etc/os-release"]) != "ID=test\n" || string(tree["models/model.safetensors"]) != "weights v2" || len(tree) != 5 {
					t.Errorf("whole filesystem: %v", tree)
				}
			})
		}
	}
}
