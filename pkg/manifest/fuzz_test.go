package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzManifest feeds manifests to the parser and the layer validation that
// Pull relies on: whatever they accept must be safe to write.
func FuzzManifest(f *testing.F) {
	seeds, err := filepath.Glob("testdata/manifests/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err != nil {
			return
		}
		files, err := layerFiles(m)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, fl := range files {
			if err := ValidatePath(fl.Path); err != nil {
				t.Fatalf("accepted unsafe path %q: %v", fl.Path, err)
			}
			k := strings.ToLower(fl.Path)
			if seen[k] {
				t.Fatalf("accepted duplicate path %q", fl.Path)
			}
			seen[k] = true
			if !filepath.IsLocal(fl.Path) || fl.Size < 0 {
				t.Fatalf("accepted %+v", fl)
			}
		}
	})
}

func TestManifestSeeds(t *testing.T) {
	tests := map[string]error{
		"model.json":          nil,
		"traversal.json":      ErrUnsafePath,
		"duplicate.json":      ErrUnsafePath,
		"absolute-title.json": ErrUnsafePath,
		"negative-size.json":  ErrInvalidManifest,
		"tar-layer.json":      ErrUnsupportedLayer,
		"index.json":          ErrNotModel,
	}
	for name, want := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", "manifests", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseManifest(b)
		if err == nil {
			_, err = LayerResources(m)
		}
		if (want == nil && err != nil) || (want != nil && !errorsIs(err, want)) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}
