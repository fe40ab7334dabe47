// Package modelcar builds container images that carry a model in their
// filesystem (KServe modelcars), layer by layer with go-containerregistry and
// no container engine, and pushes them to a test registry.
package modelcar

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one tar entry of a layer. A Linkname makes a symlink.
type Entry struct {
	Name     string
	Body     []byte
	Linkname string
	Dir      bool
}

// File is a regular file entry.
func File(name string, body []byte) Entry { return Entry{Name: name, Body: body} }

// Whiteout deletes name from lower layers.
func Whiteout(dir, base string) Entry { return Entry{Name: dir + "/.wh." + base} }

// Opaque hides everything lower layers have in dir.
func Opaque(dir string) Entry { return Entry{Name: dir + "/.wh..wh..opq"} }

func layerTar(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.Body))}
		switch {
		case e.Dir:
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		case e.Linkname != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e.Linkname
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Image builds an image from layers (lowest first): OCI media types when oci
// is true, Docker's otherwise.
func Image(t testing.TB, oci bool, layers ...[]Entry) v1.Image {
	t.Helper()
	img := empty.Image
	lt := types.DockerLayer
	if oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		lt = types.OCILayer
	}
	for _, entries := range layers {
		b := layerTar(t, entries)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(lt))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: lt})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// WriteLayout writes img into a new OCI image layout at dir, tagged tag;
// oci-layout://DIR:TAG then names it.
func WriteLayout(t testing.TB, dir, tag string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
}

// Standard is a modelcar whose layers exercise whiteouts, opaque folders,
// replaced files and links: after applying them, /models holds exactly
// model.safetensors ("weights v2"), config.json and sub/keep.txt, and the
// malicious pickle given as evil sits at /models/extra/evil.pkl.
func Standard(t testing.TB, oci bool, evil []byte) v1.Image {
	return Image(t, oci,
		[]Entry{
			{Name: "bin", Linkname: "usr/bin"},
			File("etc/os-release", []byte("ID=test\n")),
			{Name: "models/", Dir: true},
			File("models/model.safetensors", []byte("weights v1")),
			File("models/old.pt", []byte("removed by a whiteout")),
			File("models/sub/gone.txt", []byte("hidden by an opaque folder")),
			{Name: "models/link", Linkname: "/etc/shadow"},
		},
		[]Entry{
			File("models/model.safetensors", []byte("weights v2")),
			Whiteout("models", "old.pt"),
			Opaque("models/sub"),
			File("models/sub/keep.txt", []byte("kept")),
			File("models/config.json", []byte(`{"model_type":"test"}`)),
		},
		[]Entry{
			File("models/extra/evil.pkl", evil),
		},
	)
}
