package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

var testConfig = []byte(`{"descriptor":{},"config":{},"modelfs":{"type":"layers","diff_ids":[]}}`)

func TestPullRefusesHostileManifests(t *testing.T) {
	blob := []byte("payload")
	one := func(p string) func() ocispec.Manifest {
		return func() ocispec.Manifest {
			return modelManifest(t, testConfig, map[string][]byte{p: blob}, []string{p})
		}
	}
	tests := []struct {
		name     string
		manifest func() ocispec.Manifest
		want     error
	}{
		{"an absolute path", one("/tmp/evil"), ErrUnsafePath},
		{"a parent directory path", one("../evil"), ErrUnsafePath},
		{"a path that climbs out after a directory", one("a/../../evil"), ErrUnsafePath},
		{"a path with a dot component", one("./a"), ErrUnsafePath},
		{"a path with a doubled slash", one("a//b"), ErrUnsafePath},
		{"a path with a trailing slash", one("a/"), ErrUnsafePath},
		{"a backslash path", one(`..\evil`), ErrUnsafePath},
		{"a drive letter path", one("C:evil"), ErrUnsafePath},
		{"an empty path", one(""), ErrUnsafePath},
		{"a path with NUL", one("a\x00b"), ErrUnsafePath},
		{"a path with a terminal escape", one("a\x1b[2Jb"), ErrUnsafePath},
		{"a path with a newline", one("a\nb"), ErrUnsafePath},
		{"a path with a too long component", one(strings.Repeat("a", 256)), ErrUnsafePath},
		{"a duplicate path", func() ocispec.Manifest {
			return modelManifest(t, testConfig, map[string][]byte{"a.bin": blob}, []string{"a.bin", "a.bin"})
		}, ErrUnsafePath},
		{"paths that differ only in case", func() ocispec.Manifest {
			return modelManifest(t, testConfig, map[string][]byte{"A.bin": blob, "a.bin": blob}, []string{"A.bin", "a.bin"})
		}, ErrUnsafePath},
		{"a path that is a file and a directory", func() ocispec.Manifest {
			return modelManifest(t, testConfig, map[string][]byte{"a": blob, "a/b": blob}, []string{"a/b", "a"})
		}, ErrUnsafePath},
		{"a safe filepath with a hostile title", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.Layers[0].Annotations[AnnotationTitle] = "../../evil"
			return m
		}, ErrUnsafePath},
		{"a layer without a path", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.Layers[0].Annotations = nil
			return m
		}, ErrInvalidManifest},
		{"a layer of an unknown form", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.Layers[0].MediaType = "application/vnd.cncf.model.weight.v1.tar+bzip2"
			return m
		}, ErrUnsupportedLayer},
		{"a layer with a sha512 digest", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.Layers[0].Digest = digest.Digest("sha512:" + strings.Repeat("ab", 64))
			return m
		}, ErrInvalidManifest},
		{"a manifest that is not a model", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.ArtifactType = "application/vnd.example"
			m.Config.MediaType = "application/vnd.example.config+json"
			return m
		}, ErrNotModel},
		{"a manifest with too many layers", func() ocispec.Manifest {
			m := one("ok.bin")()
			m.Layers = make([]ocispec.Descriptor, MaxLayers+1)
			return m
		}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+":evil", RegistryOptions{CreateLayout: true})
			pushRaw(t, target, "evil", tt.manifest(), blob, testConfig)
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			err := Pull(context.Background(), target, ref, dst, PullOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Pull: %v, want %v", err, tt.want)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 0 {
				t.Fatalf("Pull wrote %v before refusing", entries)
			}
			if _, err := os.Stat("/tmp/evil"); err == nil {
				t.Fatal("/tmp/evil exists")
			}
			if _, err := Inspect(context.Background(), target, ref); !errors.Is(err, tt.want) {
				t.Fatalf("Inspect: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPullRefusesSymlinkedParents(t *testing.T) {
	blob := []byte("payload")
	target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+":v1", RegistryOptions{CreateLayout: true})
	pushRaw(t, target, "v1", modelManifest(t, testConfig, map[string][]byte{"ok.bin": blob, "sub/x.bin": blob}, []string{"ok.bin", "sub/x.bin"}), blob, testConfig)

	outside := t.TempDir()
	dst := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dst, "sub")); err != nil {
		t.Fatal(err)
	}
	err := Pull(context.Background(), target, ref, dst, PullOptions{})
	if !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("Pull through a symlinked parent: %v", err)
	}
	if e, _ := os.ReadDir(outside); len(e) != 0 {
		t.Fatalf("wrote outside: %v", e)
	}
	if _, err := os.Lstat(filepath.Join(dst, "ok.bin")); err == nil {
		t.Fatal("wrote ok.bin before refusing")
	}

	// A directory where a file goes is refused too.
	dst2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(dst2, "ok.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Pull(context.Background(), target, ref, dst2, PullOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("Pull over a directory: %v", err)
	}
}

func TestPullVerifiesDigests(t *testing.T) {
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "l")
	target, ref := openRef(t, "oci-layout://"+layout+":v1", RegistryOptions{CreateLayout: true})
	good := []byte("the real weights")
	pushRaw(t, target, "v1", modelManifest(t, testConfig, map[string][]byte{"w.bin": good}, []string{"w.bin"}), good, testConfig)

	// Tamper with the stored blob, keeping its size and then changing it.
	d := content.NewDescriptorFromBytes("", good)
	blobPath := filepath.Join(layout, "blobs", "sha256", d.Digest.Encoded())
	for _, bad := range [][]byte{[]byte("the fake weights"), []byte("short"), []byte("the real weights and more")} {
		if err := os.WriteFile(blobPath, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := t.TempDir()
		if err := Pull(ctx, target, ref, dst, PullOptions{}); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("Pull of a tampered blob %q: %v", bad, err)
		}
		if e, _ := os.ReadDir(dst); len(e) != 0 {
			t.Fatalf("Pull left %v", e)
		}
	}
}

func TestResolveRefusesOversizedManifest(t *testing.T) {
	blob := []byte("x")
	target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+":big", RegistryOptions{CreateLayout: true})
	m := modelManifest(t, testConfig, map[string][]byte{"x": blob}, []string{"x"})
	m.Annotations = map[string]string{"pad": strings.Repeat("a", MaxManifestBytes)}
	pushRaw(t, target, "big", m, blob, testConfig)
	if _, _, err := Resolve(context.Background(), target, ref); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Resolve of a %d byte manifest: %v", MaxManifestBytes, err)
	}
}
