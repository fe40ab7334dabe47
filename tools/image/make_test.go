package image_test

import (
	"archive/tar"
	"context"
	"crypto/elliptic"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// TestMakeImage runs `make image` as a user would, pushing to a local
// registry and signing the layout, then pulls the image back by digest,
// takes the binary out of its layer and runs `modelverify version` with it.
// It cross-compiles for linux/amd64 and linux/arm64 (many minutes on a cold
// build cache on a small machine), so it runs only with
// MODELVERIFY_IMAGE_TEST=1, as `make test-image` (and CI) sets it.
func TestMakeImage(t *testing.T) {
	if os.Getenv("MODELVERIFY_IMAGE_TEST") != "1" {
		t.Skip("cross-compiles modelverify for two platforms: run make test-image")
	}
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv(registry.RequireEnv) == "require" {
			t.Fatal("make is not installed")
		}
		t.Skip("make is not installed")
	}
	host := registryHost(t)
	work := t.TempDir()
	lay := filepath.Join(work, "layout")
	key := filepath.Join(work, "image")
	writeKeyPair(t, key)
	const ver = "v0.0.0-imagetest"
	ref := host + "/modelverify/modelverify:" + ver
	cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "image",
		"VERSION="+ver, "IMAGE_WORK="+work, "IMAGE_LAYOUT="+lay,
		"IMAGE_PUSH=oci://"+ref, "IMAGE_PUSH_FLAGS=--plain-http", "IMAGE_SIGN_KEY="+key+".key")
	cmd.Env = append(os.Environ(), "MODELVERIFY_PASSWORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	digestB, err := os.ReadFile(filepath.Join(work, "image.digest"))
	if err != nil {
		t.Fatal(err)
	}
	digest := strings.TrimSpace(string(digestB))

	// Pull the index by digest from the registry, with every manifest and
	// blob it references, into a fresh layout.
	idx := pullIndex(t, "oci://"+host+"/modelverify/modelverify@"+digest, filepath.Join(work, "pulled"))
	if d, _ := idx.Digest(); d.String() != digest {
		t.Fatalf("pulled %s, want %s", d, digest)
	}
	// The index was signed with the key and the signature pushed with it.
	pinned := "oci://" + host + "/modelverify/modelverify@" + digest
	verify := func(pub string) (int, string) {
		cmd := exec.Command("go", "run", "./tools/image/mkimage", "verify", "--plain-http", "--key", pub, "--ref", pinned)
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := verify(key + ".pub"); code != 0 {
		t.Fatalf("mkimage verify: exit %d\n%s", code, out)
	}
	other := filepath.Join(work, "other")
	writeKeyPair(t, other)
	if code, out := verify(other + ".pub"); code != 1 {
		t.Fatalf("mkimage verify with another key: exit %d, want 1\n%s", code, out)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	arches := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		arches[d.Platform.OS+"/"+d.Platform.Architecture] = d.Digest
	}
	if len(arches) != 2 || arches["linux/amd64"] == (v1.Hash{}) || arches["linux/arm64"] == (v1.Hash{}) {
		t.Fatalf("platforms %v", arches)
	}
	elfMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	var hostBin string
	for arch, d := range map[string]v1.Hash{"amd64": arches["linux/amd64"], "arm64": arches["linux/arm64"]} {
		img, err := idx.Image(d)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.version"] != ver || cf.Config.Labels["org.opencontainers.image.revision"] == "" {
			t.Errorf("%s config: user %q labels %v", arch, cf.Config.User, cf.Config.Labels)
		}
		_, bodies := files(t, img)
		bin := filepath.Join(work, "extracted-"+arch)
		if err := os.WriteFile(bin, bodies["usr/local/bin/modelverify"], 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s binary: %v", arch, err)
		}
		if f.Machine != elfMachine[arch] {
			t.Errorf("%s binary is for %v", arch, f.Machine)
		}
		// Static: no program interpreter.
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s binary is dynamically linked", arch)
			}
		}
		f.Close()
		if runtime.GOOS == "linux" && arch == runtime.GOARCH {
			hostBin = bin
		}
	}
	if hostBin == "" {
		t.Skipf("no image for the host platform %s/%s to run", runtime.GOOS, runtime.GOARCH)
	}
	out, err := exec.Command(hostBin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	for _, want := range []string{"modelverify " + ver, "allowlist:", "linux/" + runtime.GOARCH} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	// The layout is signed with modelverify's own sign: the binary from the
	// image verifies it, and a changed blob fails.
	if out, err := exec.Command(hostBin, "verify", "--key", key+".pub", lay).CombinedOutput(); err != nil {
		t.Fatalf("verify the signed layout: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(lay, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(hostBin, "verify", "--key", key+".pub", lay).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("verify after tampering: %v, want exit 1", err)
	}
}

// registryHost is Debian's distribution registry when it is installed,
// else the in-process registry.
func registryHost(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(registry.DistributionBinary); err == nil || os.Getenv(registry.RequireEnv) == "require" {
		return registry.StartDistribution(t)
	}
	return registry.NewInProcess(t, true)
}

func writeKeyPair(t *testing.T, prefix string) {
	t.Helper()
	priv, err := sign.GenerateKey(elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := sign.MarshalPrivateKeyPEM(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := sign.MarshalPublicKeyPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefix+".key", privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefix+".pub", pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pullIndex copies ref (by digest) from the registry into the layout dir
// with oras and opens it with go-containerregistry.
func pullIndex(t *testing.T, ref, dir string) v1.ImageIndex {
	t.Helper()
	ctx := context.Background()
	r, err := manifest.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	src, err := manifest.Open(ctx, r, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := oras.Copy(ctx, src, r.Reference(), dst, "pulled", oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(desc.Digest.String())
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	child, err := idx.ImageIndex(h)
	if err != nil {
		t.Fatal(err)
	}
	return child
}

// TestMakeImagePKCS11 runs `make image-pkcs11` and runs the binary of the
// image with the image's own dynamic loader and C library, taken out of its
// layer into a folder: it starts, and it is the PKCS#11 build (a key URI
// whose module does not exist fails on loading the module, where the static
// build refuses PKCS#11 keys altogether).
func TestMakeImagePKCS11(t *testing.T) {
	if os.Getenv("MODELVERIFY_IMAGE_TEST") != "1" {
		t.Skip("builds modelverify with cgo: run make test-image")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the PKCS#11 image is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	work := t.TempDir()
	lay := filepath.Join(work, "layout")
	const ver = "v0.0.0-imagetest"
	cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "image-pkcs11",
		"VERSION="+ver, "IMAGE_WORK="+work, "IMAGE_PKCS11_LAYOUT="+lay)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-pkcs11: %v\n%s", err, out)
	}
	p, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	outer, err := idx.IndexManifest()
	if err != nil || len(outer.Manifests) != 1 {
		t.Fatalf("layout index: %v %v", outer, err)
	}
	inner, err := idx.ImageIndex(outer.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform.Architecture != "amd64" {
		t.Fatalf("image index: %+v %v", im, err)
	}
	img, err := inner.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Labels["org.opencontainers.image.version"] != ver+"-pkcs11" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	hdrs, bodies := files(t, img)
	root := filepath.Join(work, "rootfs")
	var interp string
	for name, h := range hdrs {
		if h.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, bodies[name], 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(name), "ld-linux") {
			interp = dst
		}
	}
	bin := filepath.Join(root, "usr", "local", "bin", "modelverify")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic || interp == "" {
		t.Fatalf("dynamic %v, loader in the image %q", dynamic, interp)
	}
	var libPath []string
	for name := range hdrs {
		if strings.HasPrefix(filepath.Base(name), "libc.so") {
			libPath = append(libPath, filepath.Dir(filepath.Join(root, name)))
		}
	}
	if len(libPath) == 0 {
		t.Fatal("no C library in the image")
	}
	run := func(args ...string) (string, error) {
		all := append([]string{"--library-path", strings.Join(libPath, ":"), bin}, args...)
		out, err := exec.Command(interp, all...).CombinedOutput()
		return string(out), err
	}
	out, err := run("version")
	if err != nil || !strings.Contains(out, "modelverify "+ver) {
		t.Fatalf("version with the image's loader: %v\n%s", err, out)
	}
	model := filepath.Join(work, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run("sign", "--no-progress", "--key", "pkcs11:token=t;object=k?module-path="+filepath.Join(work, "no-such-module.so")+"&pin-value=1", model)
	if err == nil || strings.Contains(out, "without PKCS#11 support") || !strings.Contains(out, "no-such-module.so") {
		t.Errorf("sign with a missing module: %v\n%s", err, out)
	}
}
