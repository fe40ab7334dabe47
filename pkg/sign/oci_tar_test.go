package sign_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/modelcar"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// A file inside a tar layer is bound by its own sha256 under the path the
// tar gives it, exactly as the file a pull writes: changing one file inside a
// tar layer makes the signature fail, and the pulled folder verifies with the
// same statement.
func TestOCISignatureBindsEachFileInsideATarLayer(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	v := keyVerifier(t, &priv.PublicKey)
	model := map[string]string{"config.json": "{}", "model.safetensors": "weights", "tokenizer/vocab.txt": "a b c"}
	for _, form := range []manifest.LayerFormat{manifest.FormatTar, manifest.FormatTarGzip, manifest.FormatTarZstd} {
		t.Run(string(form), func(t *testing.T) {
			target, ref := openTarget(t, "oci-layout://"+filepath.Join(t.TempDir(), "layout")+":v1", manifest.RegistryOptions{CreateLayout: true})
			push := func(files map[string]string) ociDesc {
				d, err := manifest.Push(ctx, writeTree(t, files), target, ref, manifest.PushOptions{LayerFormat: form})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			desc := push(model)
			stmt, _, err := sign.SignOCI(ctx, s, target, desc, ref.Repository)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := v.VerifyOCI(ctx, target, desc); err != nil || res.Resources != 3 {
				t.Fatalf("verify: %+v, %v", res, err)
			}
			dst := filepath.Join(t.TempDir(), "pulled")
			if err := manifest.Pull(ctx, target, ref.WithDigest(desc.Digest), dst, manifest.PullOptions{}); err != nil {
				t.Fatal(err)
			}
			m, err := sign.HashFolder(ctx, dst, sign.FolderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fst, _ := sign.NewStatement(m)
			if fst.SubjectDigest() != stmt.SubjectDigest() {
				t.Errorf("pulled folder root digest %s, OCI root digest %s", fst.SubjectDigest(), stmt.SubjectDigest())
			}

			tampered := map[string]string{"config.json": "{}", "model.safetensors": "weights", "tokenizer/vocab.txt": "a b EVIL"}
			evil := push(tampered)
			for pt, b := range bundlesOf(t, target, desc) {
				if _, err := sign.PushBundle(ctx, target, evil, b, pt); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := v.VerifyOCI(ctx, target, evil); !errors.Is(err, sign.ErrResources) && !errors.Is(err, sign.ErrManifestDigest) {
				t.Fatalf("one file changed inside a tar layer: err = %v, want ErrResources or ErrManifestDigest", err)
			}
		})
	}
}

// An image (a modelcar) is signed over the files of its filesystem.
func TestOCISignVerifyAModelcar(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	v := keyVerifier(t, &priv.PublicKey)
	for _, oci := range []bool{true, false} {
		t.Run(map[bool]string{true: "OCI image", false: "Docker image"}[oci], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			modelcar.WriteLayout(t, dir, "v1", modelcar.Standard(t, oci, []byte("weights")))
			target, ref := openTarget(t, "oci-layout://"+dir+":v1", manifest.RegistryOptions{})
			a, err := manifest.ResolveArtifact(ctx, target, ref)
			if err != nil {
				t.Fatal(err)
			}
			stmt, _, err := sign.SignOCI(ctx, s, target, a.Descriptor, ref.Repository)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := v.VerifyOCI(ctx, target, a.Descriptor); err != nil || res.Resources != 5 {
				t.Fatalf("verify: %+v, %v", res, err)
			}
			dst := filepath.Join(t.TempDir(), "fs")
			if err := manifest.Pull(ctx, target, ref.WithDigest(a.Descriptor.Digest), dst, manifest.PullOptions{}); err != nil {
				t.Fatal(err)
			}
			m, _ := sign.HashFolder(ctx, dst, sign.FolderOptions{})
			if fst, _ := sign.NewStatement(m); fst.SubjectDigest() != stmt.SubjectDigest() {
				t.Errorf("pulled filesystem root digest %s, image root digest %s", fst.SubjectDigest(), stmt.SubjectDigest())
			}

			// The same image with one file changed in its top layer.
			edir := filepath.Join(t.TempDir(), "evil")
			modelcar.WriteLayout(t, edir, "v1", modelcar.Standard(t, oci, []byte("evil weights")))
			etarget, eref := openTarget(t, "oci-layout://"+edir+":v1", manifest.RegistryOptions{})
			ea, err := manifest.ResolveArtifact(ctx, etarget, eref)
			if err != nil {
				t.Fatal(err)
			}
			for pt, b := range bundlesOf(t, target, a.Descriptor) {
				if _, err := sign.PushBundle(ctx, etarget, ea.Descriptor, b, pt); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := v.VerifyOCI(ctx, etarget, ea.Descriptor); !errors.Is(err, sign.ErrResources) && !errors.Is(err, sign.ErrManifestDigest) {
				t.Fatalf("a changed file in an image layer: err = %v, want ErrResources or ErrManifestDigest", err)
			}
		})
	}
}
