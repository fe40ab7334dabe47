package manifest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
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

// FuzzReadTarLayer feeds arbitrary bytes to the tar layer reader in every
// form: it must return (a file it passes on always has a valid path and
// exactly its declared size) within the limits, never panic or hang.
func FuzzReadTarLayer(f *testing.F) {
	for _, form := range []LayerFormat{FormatTar, FormatTarGzip, FormatTarZstd} {
		f.Add(byte(0), makeTar(f, form, regular("a/b.bin", "payload"), regular("./c", "")))
	}
	f.Add(byte(0), makeTar(f, FormatTar, tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/"}}))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		form := []LayerFormat{FormatTar, FormatTarGzip, FormatTarZstd}[int(which)%3]
		lim := TarLimits{MaxEntries: 64, MaxBytes: 1 << 20}
		files := 0
		_ = ReadTarLayer(context.Background(), bytes.NewReader(b), form, lim, func(rel string, size int64, r io.Reader) error {
			files++
			if err := ValidatePath(rel); err != nil {
				t.Fatalf("passed on an unsafe path: %v", err)
			}
			n, err := io.Copy(io.Discard, r)
			if err == nil && n != size {
				t.Fatalf("%s: read %d bytes, declared %d", rel, n, size)
			}
			return nil
		})
		if files > lim.MaxEntries {
			t.Fatalf("%d files past a limit of %d entries", files, lim.MaxEntries)
		}
	})
}
