package manifest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/internal/testutil/modelcar"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

// TestDistributionRegistry runs a round trip, a re-push, the tag-schema
// referrers fallback and a hostile manifest against the CNCF distribution
// registry (no referrers API).
func TestDistributionRegistry(t *testing.T) {
	host := registry.StartDistribution(t)
	ctx := context.Background()
	src := t.TempDir()
	files := writeModel(t, src)
	target, ref := openRef(t, "oci://"+host+"/models/tiny:v1", RegistryOptions{PlainHTTP: true})

	res, err := PushModel(ctx, src, target, ref, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Pull(ctx, target, ref, dst, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dst); !maps.EqualFunc(got, files, bytes.Equal) {
		t.Fatal("pulled files differ")
	}
	again, err := PushModel(ctx, src, target, ref, PushOptions{})
	if err != nil || again.Uploaded != 0 || again.Descriptor.Digest != res.Descriptor.Digest {
		t.Fatalf("re-push: %+v, %v", again, err)
	}

	// A fresh client learns that distribution has no referrers API.
	fresh, _ := openRef(t, ref.String(), RegistryOptions{PlainHTTP: true})
	supported, err := ReferrersSupported(ctx, fresh)
	if err != nil || supported {
		t.Fatalf("ReferrersSupported = %v, %v; want false", supported, err)
	}
	const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	bundle := []byte(`{}`)
	subject := res.Descriptor
	sig := ocispec.Manifest{
		Versioned: m2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: bundleType,
		Config:  ocispec.DescriptorEmptyJSON,
		Layers:  []ocispec.Descriptor{content.NewDescriptorFromBytes(bundleType, bundle)},
		Subject: &subject,
	}
	sigDesc := pushRaw(t, fresh, "", sig, bundle, ocispec.DescriptorEmptyJSON.Data)
	got, err := Referrers(ctx, fresh, res.Descriptor, bundleType)
	if err != nil || len(got) != 1 || got[0].Digest != sigDesc.Digest {
		t.Fatalf("referrers through the tag schema: %v, %v", got, err)
	}

	// Tar layers and a modelcar through a real registry.
	tr, tref := openRef(t, "oci://"+host+"/models/tar:v1", RegistryOptions{PlainHTTP: true})
	tsrc := t.TempDir()
	tfiles := writeModel(t, tsrc)
	if _, err := Push(ctx, tsrc, tr, tref, PushOptions{LayerFormat: FormatTarZstd}); err != nil {
		t.Fatal(err)
	}
	tout := filepath.Join(t.TempDir(), "tar")
	if err := Pull(ctx, tr, tref, tout, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, tout); len(got) != len(tfiles) {
		t.Fatalf("tar+zstd round trip through distribution: %d files, want %d", len(got), len(tfiles))
	}
	layoutDir := filepath.Join(t.TempDir(), "car")
	modelcar.WriteLayout(t, layoutDir, "v1", modelcar.Standard(t, false, []byte("x")))
	lsrc, _ := openRef(t, "oci-layout://"+layoutDir+":v1", RegistryOptions{})
	car, carRef := openRef(t, "oci://"+host+"/modelcars/m:v1", RegistryOptions{PlainHTTP: true})
	if _, err := oras.Copy(ctx, lsrc, "v1", car, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	cout := filepath.Join(t.TempDir(), "car")
	if err := Pull(ctx, car, carRef, cout, PullOptions{ImagePath: "/models"}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, cout); string(got["model.safetensors"]) != "weights v2" || len(got) != 4 {
		t.Fatalf("a Docker modelcar through distribution: %v", got)
	}

	// A hostile manifest from a real registry is refused before writing.
	blob := []byte("x")
	evil, evilRef := openRef(t, "oci://"+host+"/models/evil:v1", RegistryOptions{PlainHTTP: true})
	pushRaw(t, evil, "v1", modelManifest(t, testConfig, map[string][]byte{"../../evil": blob}, []string{"../../evil"}), blob, testConfig)
	out := filepath.Join(t.TempDir(), "out")
	if err := Pull(ctx, evil, evilRef, out, PullOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("hostile pull: %v", err)
	}
}
