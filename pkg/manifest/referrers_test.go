package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	testregistry "github.com/modelverify/modelverify/internal/testutil/registry"
)

// pushReferrer pushes a small manifest of artifactType at whose subject is
// subject, as a signature would be.
func pushReferrer(t *testing.T, target Target, subject ocispec.Descriptor, artifactType, payload string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer := content.NewDescriptorFromBytes("application/octet-stream", []byte(payload))
	if err := target.Push(ctx, layer, strings.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	empty := ocispec.DescriptorEmptyJSON
	if ok, _ := target.Exists(ctx, empty); !ok {
		if err := target.Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil {
			t.Fatal(err)
		}
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: ocispec.Descriptor{MediaType: empty.MediaType, Digest: empty.Digest, Size: empty.Size},
		Layers: []ocispec.Descriptor{layer}, Subject: &subj}
	mb, _ := json.Marshal(m)
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	d.ArtifactType = artifactType
	if err := target.Push(ctx, d, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	return d
}

func tags(t *testing.T, target Target) []string {
	t.Helper()
	var out []string
	if err := target.(registry.TagLister).Tags(context.Background(), "", func(ts []string) error { out = append(out, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func fallbackTag(d ocispec.Descriptor) string { return "sha256-" + d.Digest.Encoded() }

func TestReferrersThroughTheAPIAndTheTagSchema(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeModel(t, src)
	const at = "application/vnd.example.signature"
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[api], func(t *testing.T) {
			target, ref := openRef(t, "oci://"+testregistry.NewInProcess(t, api)+"/models/r:v1", RegistryOptions{PlainHTTP: true})
			desc, err := Push(ctx, src, target, ref, PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			supported, err := ReferrersSupported(ctx, target)
			if err != nil || supported != api {
				t.Fatalf("ReferrersSupported = %v, %v; want %v", supported, err, api)
			}
			sig := pushReferrer(t, target, desc, at, "signature")
			got, err := Referrers(ctx, target, desc, at)
			if err != nil || len(got) != 1 || got[0].Digest != sig.Digest {
				t.Fatalf("Referrers = %v, %v; want %s", got, err, sig.Digest)
			}
			hasTag := slices.Contains(tags(t, target), fallbackTag(desc))
			if hasTag == api {
				t.Errorf("fallback tag present = %v on a registry with referrers API = %v", hasTag, api)
			}
		})
	}
}

// A registry with a referrers API that also holds a fallback tag (left by an
// older tool, or planted) is read through the API only.
func TestARegistryWithBothIsReadThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeModel(t, src)
	const at = "application/vnd.example.signature"
	host := testregistry.NewInProcess(t, true)
	target, ref := openRef(t, "oci://"+host+"/models/both:v1", RegistryOptions{PlainHTTP: true})
	desc, err := Push(ctx, src, target, ref, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A planted fallback index that names a manifest which is not a referrer.
	planted := pushReferrer(t, target, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: content.NewDescriptorFromBytes("", []byte("elsewhere")).Digest, Size: 9}, at, "planted")
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{planted}}
	ib, _ := json.Marshal(idx)
	id := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, ib)
	if err := target.(*remote.Repository).PushReference(ctx, id, bytes.NewReader(ib), fallbackTag(desc)); err != nil {
		t.Fatal(err)
	}
	real := pushReferrer(t, target, desc, at, "real")
	// A fresh client, as a later verify would be.
	fresh, _ := openRef(t, "oci://"+host+"/models/both:v1", RegistryOptions{PlainHTTP: true})
	got, err := Referrers(ctx, fresh, desc, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Digest != real.Digest {
		t.Fatalf("Referrers = %v; want only %s through the API (planted %s)", got, real.Digest, planted.Digest)
	}
}
