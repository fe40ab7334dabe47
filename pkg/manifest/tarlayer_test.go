package manifest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func regular(name string, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: []byte(body)}
}

// makeTar writes entries as a layer blob in form f, as another tool could.
func makeTar(t testing.TB, f LayerFormat, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch f {
	case FormatTarGzip:
		zw = gzip.NewWriter(&buf)
	case FormatTarZstd:
		e, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw = e
	}
	var tw *tar.Writer
	if zw != nil {
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// tarManifest is a model manifest of the given tar layer blobs (weight kind,
// form f) and raw files.
func tarManifest(t testing.TB, f LayerFormat, blobs [][]byte, raw map[string][]byte) ocispec.Manifest {
	t.Helper()
	var order []string
	for p := range raw {
		order = append(order, p)
	}
	m := modelManifest(t, testConfig, raw, order)
	for i, b := range blobs {
		d := content.NewDescriptorFromBytes(KindWeight.LayerMediaType(f), b)
		if i == 0 {
			d.Annotations = map[string]string{AnnotationFilepath: "weights"}
		}
		m.Layers = append(m.Layers, d)
	}
	return m
}

func pushTarModel(t *testing.T, m ocispec.Manifest, blobs ...[]byte) (Target, Ref) {
	t.Helper()
	target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+":v1", RegistryOptions{CreateLayout: true})
	pushRaw(t, target, "v1", m, append(blobs, testConfig)...)
	return target, ref
}

func TestPullUnpacksEveryTarLayerForm(t *testing.T) {
	for _, f := range []LayerFormat{FormatTar, FormatTarGzip, FormatTarZstd} {
		t.Run(string(f), func(t *testing.T) {
			blob := makeTar(t, f,
				tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}},
				tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./weights/", Mode: 0o755}},
				regular("./weights/model.safetensors", "tensors"),
				regular("tokenizer.json", "{}"))
			raw := map[string][]byte{"README.md": []byte("# model")}
			m := tarManifest(t, f, [][]byte{blob}, raw)
			target, ref := pushTarModel(t, m, blob, raw["README.md"])
			dst := filepath.Join(t.TempDir(), "out")
			res, err := PullModel(context.Background(), target, ref, dst, PullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := readTree(t, dst)
			want := map[string][]byte{"README.md": []byte("# model"), "weights/model.safetensors": []byte("tensors"), "tokenizer.json": []byte("{}")}
			if len(got) != len(want) {
				t.Fatalf("pulled %v, want %v", got, want)
			}
			for p, b := range want {
				if !bytes.Equal(got[p], b) {
					t.Errorf("%s = %q, want %q", p, got[p], b)
				}
			}
			// What a pull writes is what the folder hashes to, and what
			// Resources computes from the registry.
			fromFolder, err := FolderResources(context.Background(), dst, nil)
			if err != nil {
				t.Fatal(err)
			}
			fromRegistry, err := Resources(context.Background(), target, m, TarLimits{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range fromFolder {
				if fromFolder[i] != res.Resources[i] || fromFolder[i] != fromRegistry[i] {
					t.Errorf("resource %d: folder %v, pull %v, registry %v", i, fromFolder[i], res.Resources[i], fromRegistry[i])
				}
			}
			if len(fromFolder) != 3 || len(res.Resources) != 3 || len(fromRegistry) != 3 {
				t.Errorf("resources: folder %v, pull %v, registry %v", fromFolder, res.Resources, fromRegistry)
			}
			if _, err := LayerResources(m); !errors.Is(err, ErrUnsupportedLayer) {
				t.Errorf("LayerResources of a tar layer: %v, want ErrUnsupportedLayer", err)
			}
		})
	}
}

func TestPullRefusesHostileTarLayers(t *testing.T) {
	many := make([]tarEntry, 11)
	for i := range many {
		many[i] = regular("f"+strings.Repeat("x", i), "x")
	}
	tests := []struct {
		name    string
		entries []tarEntry
		lim     TarLimits
		want    error
	}{
		{"an absolute path", []tarEntry{regular("/tmp/evil", "x")}, TarLimits{}, ErrUnsafePath},
		{"a parent directory path", []tarEntry{regular("../evil", "x")}, TarLimits{}, ErrUnsafePath},
		{"a path that climbs out after a directory", []tarEntry{regular("a/../../evil", "x")}, TarLimits{}, ErrUnsafePath},
		{"a directory that climbs out", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "../up/"}}}, TarLimits{}, ErrUnsafePath},
		{"a symlink out of the folder", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "/etc"}}, regular("link/passwd", "x")}, TarLimits{}, ErrUnsafePath},
		{"a symlink inside the folder", []tarEntry{regular("a", "x"), {hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "b", Linkname: "a"}}}, TarLimits{}, ErrUnsafePath},
		{"a hard link", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "/etc/passwd"}}}, TarLimits{}, ErrUnsafePath},
		{"a character device", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}}}, TarLimits{}, ErrUnsafePath},
		{"a block device", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Devmajor: 8}}}, TarLimits{}, ErrUnsafePath},
		{"a FIFO", []tarEntry{{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "pipe"}}}, TarLimits{}, ErrUnsafePath},
		{"a path with a terminal escape", []tarEntry{regular("a\x1b[2Jb", "x")}, TarLimits{}, ErrUnsafePath},
		{"a duplicate path", []tarEntry{regular("a.bin", "x"), regular("./a.bin", "y")}, TarLimits{}, ErrUnsafePath},
		{"paths that differ only in case", []tarEntry{regular("A.bin", "x"), regular("a.bin", "y")}, TarLimits{}, ErrUnsafePath},
		{"a path that is a file and a directory", []tarEntry{regular("a", "x"), regular("a/b", "y")}, TarLimits{}, ErrUnsafePath},
		{"a path that the raw layer also has", []tarEntry{regular("README.md", "x")}, TarLimits{}, ErrUnsafePath},
		{"more entries than the limit", many, TarLimits{MaxEntries: 10}, ErrTooLarge},
		{"more bytes than the limit", []tarEntry{regular("a", strings.Repeat("x", 600)), regular("b", strings.Repeat("x", 600))}, TarLimits{MaxBytes: 1000}, ErrTooLarge},
	}
	for _, tt := range tests {
		for _, f := range []LayerFormat{FormatTar, FormatTarGzip, FormatTarZstd} {
			t.Run(tt.name+"/"+string(f), func(t *testing.T) {
				blob := makeTar(t, f, tt.entries...)
				raw := map[string][]byte{"README.md": []byte("# model")}
				m := tarManifest(t, f, [][]byte{blob}, raw)
				target, ref := pushTarModel(t, m, blob, raw["README.md"])
				parent := t.TempDir()
				err := Pull(context.Background(), target, ref, filepath.Join(parent, "out"), PullOptions{TarLimits: tt.lim})
				if !errors.Is(err, tt.want) {
					t.Fatalf("Pull: %v, want %v", err, tt.want)
				}
				if entries, _ := os.ReadDir(parent); len(entries) != 0 {
					t.Fatalf("a refused pull left %v", entries)
				}
				if _, err := os.Lstat("/tmp/evil"); err == nil {
					t.Fatal("/tmp/evil exists")
				}
				if _, err := Resources(context.Background(), target, m, tt.lim); !errors.Is(err, tt.want) {
					t.Fatalf("Resources: %v, want %v", err, tt.want)
				}
			})
		}
	}
}

func TestPullRefusesDamagedTarLayers(t *testing.T) {
	good := makeTar(t, FormatTarGzip, regular("a.bin", strings.Repeat("x", 4096)))
	tests := []struct {
		name string
		blob []byte
		desc func(b []byte) ocispec.Descriptor
		want error
	}{
		{"a truncated gzip stream", good[:len(good)/2], nil, ErrInvalidManifest},
		{"a blob that is not gzip", []byte("not gzip at all"), nil, ErrInvalidManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tarManifest(t, FormatTarGzip, [][]byte{tt.blob}, nil)
			if tt.desc != nil {
				m.Layers[0] = tt.desc(tt.blob)
			}
			target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+":v1", RegistryOptions{CreateLayout: true})
			ctx := context.Background()
			// Store the blob under the digest the manifest names, as a
			// hostile registry would serve it.
			if err := target.Push(ctx, content.NewDescriptorFromBytes("", tt.blob), bytes.NewReader(tt.blob)); err != nil {
				t.Fatal(err)
			}
			pushRaw(t, target, "v1", m, testConfig)
			parent := t.TempDir()
			err := Pull(ctx, target, ref, filepath.Join(parent, "out"), PullOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Pull: %v, want %v", err, tt.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("a failed pull left %v", entries)
			}
		})
	}
}

func TestTarLayerWhoseBytesDoNotMatchItsDigestIsRefused(t *testing.T) {
	blob := makeTar(t, FormatTar, regular("a.bin", "payload"))
	d := content.NewDescriptorFromBytes(KindWeight.LayerMediaType(FormatTar), blob)
	tampered := makeTar(t, FormatTar, regular("a.bin", "PAYLOAD"))
	var seen []string
	err := readTarFrom(context.Background(), bytes.NewReader(tampered), TarLayer{Desc: d, Format: FormatTar}, TarLimits{},
		func(rel string, size int64, r io.Reader) error { seen = append(seen, rel); return nil })
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("readTarFrom of a tampered blob: %v (saw %v), want ErrDigestMismatch", err, seen)
	}
}

func TestPushWritesEveryLayerFormAndPullReadsItBack(t *testing.T) {
	for _, f := range LayerFormats {
		for _, tc := range targetCases() {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				src := t.TempDir()
				files := writeModel(t, src)
				target, ref := tc.open(t, "models/tiny", true)
				res, err := PushModel(ctx, src, target, ref, PushOptions{LayerFormat: f})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range res.Manifest.Layers {
					if got, ok := ModelLayerFormat(l.MediaType); !ok || got != f {
						t.Errorf("%s: media type %q, want form %s", l.Annotations[AnnotationFilepath], l.MediaType, f)
					}
				}
				cfg, err := FetchConfig(ctx, target, res.Manifest)
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.ModelFS.DiffIDs) != len(res.Manifest.Layers) {
					t.Fatalf("diff_ids %v", cfg.ModelFS.DiffIDs)
				}
				if f == FormatTar {
					for i, l := range res.Manifest.Layers {
						if cfg.ModelFS.DiffIDs[i] != l.Digest.String() {
							t.Errorf("an uncompressed tar layer's diff_id %s is not its digest %s", cfg.ModelFS.DiffIDs[i], l.Digest)
						}
					}
				}
				dst := filepath.Join(t.TempDir(), "out")
				pulled, err := PullModel(ctx, target, ref, dst, PullOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got := readTree(t, dst)
				if len(got) != len(files) {
					t.Fatalf("pulled %d files, want %d", len(got), len(files))
				}
				for p, b := range files {
					if !bytes.Equal(got[p], b) {
						t.Errorf("%s differs after a %s round trip", p, f)
					}
				}
				fromDir, err := FolderResources(ctx, src, DefaultIgnore)
				if err != nil {
					t.Fatal(err)
				}
				fromRegistry, err := Resources(ctx, target, res.Manifest, TarLimits{})
				if err != nil {
					t.Fatal(err)
				}
				if len(fromDir) != len(fromRegistry) || len(fromDir) != len(pulled.Resources) {
					t.Fatalf("resources: folder %v, registry %v, pull %v", fromDir, fromRegistry, pulled.Resources)
				}
				for i := range fromDir {
					if fromDir[i] != fromRegistry[i] || fromDir[i] != pulled.Resources[i] {
						t.Errorf("resource %d: folder %v, registry %v, pull %v", i, fromDir[i], fromRegistry[i], pulled.Resources[i])
					}
				}
				// The layers are reproducible: a re-push sends nothing and
				// gives the same manifest.
				again, err := PushModel(ctx, src, target, ref, PushOptions{LayerFormat: f})
				if err != nil {
					t.Fatal(err)
				}
				if again.Descriptor.Digest != res.Descriptor.Digest || again.Uploaded != 0 {
					t.Errorf("re-push: digest %s (was %s), %d uploaded", again.Descriptor.Digest, res.Descriptor.Digest, again.Uploaded)
				}
			})
		}
	}
}
