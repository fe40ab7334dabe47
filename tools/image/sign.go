package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// Bounds on what is read from a registry while verifying.
const (
	maxIndexBytes  = 1 << 20
	maxBundleBytes = 1 << 20
	maxReferrers   = 64
)

// ErrUnsigned reports an image with no signature that verifies.
var ErrUnsigned = errors.New("no valid signature")

// IndexManifest is the OMS manifest that signs an image index: a resource
// "index" with the index digest, and one per platform image ("linux/amd64",
// ...) with its manifest digest. Signing the index digest binds its
// annotations; the platform entries say what the signer saw.
func IndexManifest(name string, desc ocispec.Descriptor, index []byte) (*sign.Manifest, error) {
	if desc.Digest.Algorithm() != "sha256" {
		return nil, fmt.Errorf("%w: index digest %s is not sha256", ErrOptions, desc.Digest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, fmt.Errorf("%w: image index: %v", ErrOptions, err)
	}
	rs := []sign.Resource{{Name: "index", Algorithm: "sha256", Digest: desc.Digest.Encoded()}}
	seen := map[string]bool{}
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Digest.Algorithm() != "sha256" {
			return nil, fmt.Errorf("%w: index entry %s has no platform or is not sha256", ErrOptions, m.Digest)
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		if seen[p] {
			return nil, fmt.Errorf("%w: platform %s listed twice", ErrOptions, p)
		}
		seen[p] = true
		rs = append(rs, sign.Resource{Name: p, Algorithm: "sha256", Digest: m.Digest.Encoded()})
	}
	sign.SortResources(sign.MethodFiles, rs)
	return &sign.Manifest{Name: name, Serialization: sign.Serialization{Method: sign.MethodFiles, HashType: "sha256"}, Resources: rs}, nil
}

// fetchIndex resolves ref (a tag or digest) in target and returns the index
// descriptor and bytes, digest-verified.
func fetchIndex(ctx context.Context, target manifest.Target, ref string) (ocispec.Descriptor, []byte, error) {
	desc, err := target.Resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%w: %s is %s, not an image index", ErrOptions, ref, desc.MediaType)
	}
	if desc.Size > maxIndexBytes {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%w: index of %d bytes", ErrOptions, desc.Size)
	}
	b, err := content.FetchAll(ctx, target, desc)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("fetch index %s: %w", desc.Digest, err)
	}
	return desc, b, nil
}

// SignIndex signs the image index that ref names in target and stores the
// Sigstore bundle as its referrer, in the same layout as model signatures
// (artifactType and single layer application/vnd.dev.sigstore.bundle.v0.3+json).
// name is the subject name recorded in the statement (the repository).
func SignIndex(ctx context.Context, s *sign.Signer, target manifest.Target, ref, name string) (ocispec.Descriptor, error) {
	desc, b, err := fetchIndex(ctx, target, ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m, err := IndexManifest(name, desc, b)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	st, err := sign.NewStatement(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	bundle, err := s.Sign(ctx, st)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return sign.PushBundle(ctx, target, desc, bundle, sign.PredicateTypeOMS)
}

// VerifyIndex checks that one referrer of the index that ref names is a
// bundle that v verifies and that signs exactly this index and its
// platform images. It returns the verified statement.
func VerifyIndex(ctx context.Context, v *sign.Verifier, target manifest.Target, ref string) (*sign.Statement, error) {
	desc, b, err := fetchIndex(ctx, target, ref)
	if err != nil {
		return nil, err
	}
	want, err := IndexManifest("", desc, b)
	if err != nil {
		return nil, err
	}
	refs, err := manifest.Referrers(ctx, target, desc, sign.BundleMediaType)
	if err != nil {
		return nil, err
	}
	if len(refs) > maxReferrers {
		refs = refs[:maxReferrers]
	}
	var errs []error
	for _, r := range refs {
		bundle, err := referrerBundle(ctx, target, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, _, err := v.VerifyStatement(bundle)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := sign.CompareResources(sign.MethodFiles, st.Manifest().Resources, want.Resources); err != nil {
			errs = append(errs, err)
			continue
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w for %s (%d referrers): %w", ErrUnsigned, desc.Digest, len(refs), errors.Join(errs...))
}

func referrerBundle(ctx context.Context, target manifest.Target, d ocispec.Descriptor) ([]byte, error) {
	if d.Size > maxIndexBytes {
		return nil, fmt.Errorf("referrer %s: %d bytes", d.Digest, d.Size)
	}
	b, err := content.FetchAll(ctx, target, d)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("referrer %s: %w", d.Digest, err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != sign.BundleMediaType || m.Layers[0].Size > maxBundleBytes {
		return nil, fmt.Errorf("referrer %s is not a single Sigstore bundle", d.Digest)
	}
	return content.FetchAll(ctx, target, m.Layers[0])
}
