package image_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/modelverify/modelverify/tools/image"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions(t *testing.T) image.Options {
	d := t.TempDir()
	return image.Options{
		Binaries: []image.Binary{
			{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Path: writeFile(t, d, "amd64", "amd64 binary")},
			{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Path: writeFile(t, d, "arm64", "arm64 binary")},
		},
		CACertificates: writeFile(t, d, "ca.crt", testCA),
		Version:        "v1.2.3",
		Revision:       "0123456789abcdef",
		Source:         "https://github.com/modelverify/modelverify",
	}
}

// files returns the regular files and directories of an image's flattened
// filesystem with their headers.
func files(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdrs, bodies := map[string]*tar.Header{}, map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		hdrs[name] = h
		b, _ := io.ReadAll(tr)
		bodies[name] = b
	}
	return hdrs, bodies
}

func TestBuildMakesAnIndexOfMinimalNonRootImages(t *testing.T) {
	o := testOptions(t)
	idx, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
	}
	if im.Annotations[image.LabelVersion] != "v1.2.3" {
		t.Errorf("index annotations %v", im.Annotations)
	}
	for i, want := range []string{"amd64", "arm64"} {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != want || d.MediaType != types.OCIManifestSchema1 {
			t.Fatalf("manifest %d: %+v", i, d)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != want || cf.OS != "linux" {
			t.Errorf("config platform %s/%s", cf.OS, cf.Architecture)
		}
		if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != image.BinaryPath {
			t.Errorf("user %q entrypoint %v", cf.Config.User, cf.Config.Entrypoint)
		}
		for k, v := range map[string]string{image.LabelVersion: o.Version, image.LabelRevision: o.Revision, image.LabelSource: o.Source} {
			if cf.Config.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
			}
		}
		if !slicesContain(cf.Config.Env, "SSL_CERT_FILE="+image.CAPath) {
			t.Errorf("env %v", cf.Config.Env)
		}
		layers, _ := img.Layers()
		if len(layers) != 1 {
			t.Fatalf("%d layers", len(layers))
		}
		hdrs, bodies := files(t, img)
		bin := hdrs["usr/local/bin/modelverify"]
		if bin == nil || bin.Mode&0o111 == 0 || string(bodies["usr/local/bin/modelverify"]) != want+" binary" {
			t.Errorf("binary %+v %q", bin, bodies["usr/local/bin/modelverify"])
		}
		if string(bodies["etc/ssl/certs/ca-certificates.crt"]) != testCA {
			t.Error("CA certificates not copied")
		}
		if !strings.Contains(string(bodies["etc/passwd"]), "nonroot:x:65532:65532:") {
			t.Errorf("passwd %q", bodies["etc/passwd"])
		}
		if h := hdrs["home/nonroot"]; h == nil || h.Uid != image.UID {
			t.Errorf("home %+v", h)
		}
		if h := hdrs["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
			t.Errorf("tmp %+v", h)
		}
		for name, h := range hdrs {
			if !h.ModTime.Equal(hdrs["etc"].ModTime) {
				t.Errorf("%s has mtime %v", name, h.ModTime)
			}
		}
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	a, _ := image.Build(o)
	b, _ := image.Build(o)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same inputs, digests %s and %s", da, db)
	}
	o.Version = "v1.2.4"
	c, _ := image.Build(o)
	if dc, _ := c.Digest(); dc == da {
		t.Fatal("another version gave the same digest")
	}
}

func TestBuildRefusesIncompleteOptions(t *testing.T) {
	d := t.TempDir()
	for name, edit := range map[string]func(*image.Options){
		"no binary":              func(o *image.Options) { o.Binaries = nil },
		"no CA certificates":     func(o *image.Options) { o.CACertificates = "" },
		"a missing CA file":      func(o *image.Options) { o.CACertificates = filepath.Join(d, "none") },
		"a CA file without PEM":  func(o *image.Options) { o.CACertificates = writeFile(t, d, "x", "hello") },
		"a platform given twice": func(o *image.Options) { o.Binaries[1].Platform = o.Binaries[0].Platform },
		"a missing binary":       func(o *image.Options) { o.Binaries[0].Path = filepath.Join(d, "none") },
	} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			edit(&o)
			if _, err := image.Build(o); !errors.Is(err, image.ErrOptions) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	for _, p := range []string{"linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := image.ParsePlatform(p); err == nil {
			t.Errorf("platform %q accepted", p)
		}
	}
	if p, err := image.ParsePlatform("linux/arm/v7"); err != nil || p.Variant != "v7" {
		t.Errorf("linux/arm/v7: %+v %v", p, err)
	}
}

func TestWriteLayoutReplacesTheTag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	o := testOptions(t)
	idx1, _ := image.Build(o)
	d1, err := image.WriteLayout(dir, idx1, "v1")
	if err != nil {
		t.Fatal(err)
	}
	o.Version = "v2"
	idx2, _ := image.Build(o)
	d2, err := image.WriteLayout(dir, idx2, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 {
		t.Fatal("same digest")
	}
	p, _ := layout.FromPath(dir)
	top, _ := p.ImageIndex()
	im, _ := top.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != d2 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Fatalf("index.json %+v", im.Manifests)
	}
}

func TestPinDigest(t *testing.T) {
	const repo = "ghcr.io/modelverify/modelverify"
	d, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	want := "          image: " + repo + "@" + d.String() + "\n"
	for name, in := range map[string]string{
		"a tag":              "          image: " + repo + ":v0.1.0\n",
		"no tag":             "          image: " + repo + "\n",
		"an old digest":      "          image: " + repo + "@sha256:" + strings.Repeat("0", 64) + "\n",
		"a tag and a digest": "          image: " + repo + ":v1@sha256:" + strings.Repeat("1", 64) + "\n",
	} {
		got, err := image.PinDigest([]byte(in), repo, d)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v", name, got, err)
		}
	}
	other := "  - image: ghcr.io/modelverify/modelverify-extra:v1\n"
	if got, err := image.PinDigest([]byte(other), repo, d); !errors.Is(err, image.ErrOptions) {
		t.Errorf("another repository was rewritten: %q %v", got, err)
	}
	if _, err := image.PinDigest([]byte(want), repo, v1.Hash{Algorithm: "sha256", Hex: "ab"}); !errors.Is(err, image.ErrOptions) {
		t.Error("a short digest was accepted")
	}
}

// The committed deployment references the webhook image by digest, so a
// cluster runs exactly the image that was built and signed (`make image
// image-pin` updates it).
func TestDeployReferencesTheImageByDigest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	refs := image.ImageRefs(b, "ghcr.io/modelverify/modelverify")
	if len(refs) == 0 {
		t.Fatal("deployment.yaml does not use ghcr.io/modelverify/modelverify")
	}
	re := regexp.MustCompile(`^ghcr\.io/modelverify/modelverify@sha256:[0-9a-f]{64}$`)
	for _, r := range refs {
		if !re.MatchString(r) {
			t.Errorf("image %q is not a digest reference", r)
		}
	}
	if bytes.Contains(b, []byte("imagePullPolicy: Always")) {
		t.Error("a digest reference needs no imagePullPolicy: Always")
	}
}

// A cgo binary's shared libraries are copied into its platform's image at
// the paths they have on the build machine, a symbolic link as the file it
// names, with their folders; other platforms get none, and a relative path
// is refused.
func TestBuildCopiesSharedLibraries(t *testing.T) {
	o := testOptions(t)
	libDir := t.TempDir()
	lib := writeFile(t, libDir, "libc.so.6", "shared library")
	link := filepath.Join(libDir, "ld-linux.so.2")
	if err := os.Symlink(lib, link); err != nil {
		t.Fatal(err)
	}
	o.Binaries[0].Libs = []string{lib, link}
	idx, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		hdrs, bodies := files(t, img)
		for _, p := range []string{lib, link} {
			h, ok := hdrs[p[1:]]
			if i == 1 {
				if ok {
					t.Errorf("%s: %s in the image of another platform", d.Platform.Architecture, p)
				}
				continue
			}
			if !ok || h.Typeflag != tar.TypeReg || string(bodies[p[1:]]) != "shared library" {
				t.Errorf("%s: %s: %+v %q", d.Platform.Architecture, p, h, bodies[p[1:]])
			}
		}
		if h, ok := hdrs[libDir[1:]]; i == 0 && (!ok || h.Typeflag != tar.TypeDir) {
			t.Errorf("no folder %s/ in the image", libDir)
		}
	}
	o.Binaries[0].Libs = []string{"lib/libc.so.6"}
	if _, err := image.Build(o); !errors.Is(err, image.ErrOptions) {
		t.Errorf("a relative library path: %v", err)
	}
}
