package sign

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// Annotations on the referrer manifests this package pushes. They help
// humans and listing tools; verification never relies on them.
const (
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	AnnotationCreated       = ocispec.AnnotationCreated
)

// maxReferrers bounds how many referrers of one model are examined.
const maxReferrers = 256

// OCIResources are the OMS resources of a model manifest: one per layer,
// named by its file path, with the layer digest (the file's sha256, because
// model layers are raw). No blob is downloaded.
func OCIResources(m ocispec.Manifest) ([]Resource, error) {
	rs, err := manifest.LayerResources(m)
	if err != nil {
		return nil, err
	}
	return toResources(rs), nil
}

// OCIResourcesFrom are the OMS resources of a model manifest in target: the
// files a pull writes. Raw layers are named by the manifest alone; each tar
// layer is downloaded and every file in it hashed (manifest.Resources).
func OCIResourcesFrom(ctx context.Context, target manifest.Target, m ocispec.Manifest) ([]Resource, error) {
	rs, err := manifest.Resources(ctx, target, m, manifest.TarLimits{})
	if err != nil {
		return nil, err
	}
	return toResources(rs), nil
}

func toResources(rs []manifest.Resource) []Resource {
	out := make([]Resource, len(rs))
	for i, r := range rs {
		out[i] = Resource{Name: r.Path, Algorithm: "sha256", Digest: r.Digest}
	}
	SortResources(MethodFiles, out)
	return out
}

// fetchSignable fetches a model manifest or a container image manifest (a
// modelcar); any other artifact is manifest.ErrNotModel.
func fetchSignable(ctx context.Context, target manifest.Target, desc ocispec.Descriptor) (ocispec.Manifest, error) {
	if desc.MediaType == ocispec.MediaTypeImageManifest || desc.MediaType == manifest.MediaTypeDockerManifest {
		a, err := manifest.FetchArtifact(ctx, target, desc)
		if err != nil {
			return ocispec.Manifest{}, err
		}
		if a.Kind == manifest.KindImage {
			return a.Manifest, nil
		}
	}
	return manifest.FetchManifest(ctx, target, desc)
}

// OCIManifest is the OMS manifest of a model in a registry; name is the
// subject name recorded in the statement (the repository, by convention).
func OCIManifest(name string, m ocispec.Manifest) (*Manifest, error) {
	rs, err := OCIResources(m)
	if err != nil {
		return nil, err
	}
	return ociManifest(name, rs), nil
}

func ociManifest(name string, rs []Resource) *Manifest {
	return &Manifest{
		Name:          name,
		Serialization: Serialization{Method: MethodFiles, HashType: "sha256"},
		Resources:     rs,
	}
}

// SignOCI signs the model manifest desc in target and pushes two bundles as
// its referrers: the OMS statement of its layers (name is the statement's
// subject name) and the statement that binds the manifest digest
// (SignManifest), which verification requires; in keyless mode one
// certificate serves both. It returns the OMS statement
// and the OMS referrer; the binding referrer is pushed last, so a model is
// never left with a binding alone because of a failed push.
func SignOCI(ctx context.Context, s *Signer, target manifest.Target, desc ocispec.Descriptor, name string) (*Statement, ocispec.Descriptor, error) {
	st, refs, err := SignOCIReferrers(ctx, s, target, desc, name)
	return st, refs.OMS, err
}

// OCIReferrers are the two referrers SignOCI pushes.
type OCIReferrers struct {
	// OMS holds the OMS statement of the layers.
	OMS ocispec.Descriptor
	// Manifest holds the statement that binds the manifest digest.
	Manifest ocispec.Descriptor
}

// SignOCIReferrers is SignOCI returning both referrers it pushed.
func SignOCIReferrers(ctx context.Context, s *Signer, target manifest.Target, desc ocispec.Descriptor, name string) (*Statement, OCIReferrers, error) {
	var none OCIReferrers
	m, err := fetchSignable(ctx, target, desc)
	if err != nil {
		return nil, none, err
	}
	rs, err := OCIResourcesFrom(ctx, target, m)
	if err != nil {
		return nil, none, err
	}
	st, err := NewStatement(ociManifest(name, rs))
	if err != nil {
		return nil, none, err
	}
	mst, err := NewManifestStatement(desc)
	if err != nil {
		return nil, none, err
	}
	bs, err := s.SignEach(ctx, st, mst)
	if err != nil {
		return nil, none, err
	}
	oms, err := PushBundle(ctx, target, desc, bs[0], PredicateTypeOMS)
	if err != nil {
		return nil, none, err
	}
	bound, err := PushBundle(ctx, target, desc, bs[1], PredicateTypeManifest)
	if err != nil {
		return nil, none, fmt.Errorf("manifest signature: %w", err)
	}
	return st, OCIReferrers{OMS: oms, Manifest: bound}, nil
}

// PushBundle pushes bundleJSON as a referrer of subject: an image manifest
// whose artifactType and only layer are the bundle media type, with the
// empty config. Registries without the referrers API get the tag-schema
// fallback index (oras-go maintains it on push).
func PushBundle(ctx context.Context, target manifest.Target, subject ocispec.Descriptor, bundleJSON []byte, predicateType string) (ocispec.Descriptor, error) {
	layer := content.NewDescriptorFromBytes(BundleMediaType, bundleJSON)
	if err := pushIfMissing(ctx, target, layer, bundleJSON); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push bundle: %w", err)
	}
	empty := ocispec.DescriptorEmptyJSON
	if err := pushIfMissing(ctx, target, empty, empty.Data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push empty config: %w", err)
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: BundleMediaType,
		Config:       ocispec.Descriptor{MediaType: empty.MediaType, Digest: empty.Digest, Size: empty.Size, Data: empty.Data},
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subj,
		Annotations: map[string]string{
			AnnotationBundleContent: "dsse-envelope",
			AnnotationPredicateType: predicateType,
			AnnotationCreated:       time.Now().UTC().Format(time.RFC3339),
		},
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	md.ArtifactType = BundleMediaType
	md.Annotations = m.Annotations
	if err := target.Push(ctx, md, bytes.NewReader(mb)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push signature manifest: %w", err)
	}
	return md, nil
}

func pushIfMissing(ctx context.Context, target manifest.Target, d ocispec.Descriptor, b []byte) error {
	ok, err := target.Exists(ctx, d)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return target.Push(ctx, d, bytes.NewReader(b))
}

// eachBundle lists the referrers of desc that carry a Sigstore bundle and
// calls f with each bundle (digest-verified, bounded in size), one at a
// time, until f returns true. It reports how many bundles it saw.
func eachBundle(ctx context.Context, target manifest.Target, desc ocispec.Descriptor, f func(b []byte) bool) (int, error) {
	refs, err := manifest.Referrers(ctx, target, desc, BundleMediaType)
	if err != nil {
		return 0, err
	}
	if len(refs) > maxReferrers {
		refs = refs[:maxReferrers]
	}
	n := 0
	for _, r := range refs {
		if r.MediaType != ocispec.MediaTypeImageManifest || r.Size > int64(manifest.MaxManifestBytes) || r.Size < 0 {
			continue
		}
		mb, err := content.FetchAll(ctx, target, r)
		if err != nil {
			return n, fmt.Errorf("fetch referrer %s: %w", r.Digest, err)
		}
		var m ocispec.Manifest
		if json.Unmarshal(mb, &m) != nil || m.Subject == nil || m.Subject.Digest != desc.Digest {
			continue
		}
		for _, l := range m.Layers {
			if l.MediaType != BundleMediaType || l.Size > maxBundleSize || l.Size < 0 {
				continue
			}
			b, err := content.FetchAll(ctx, target, l)
			if err != nil {
				return n, fmt.Errorf("fetch bundle %s: %w", l.Digest, err)
			}
			n++
			if f(b) {
				return n, nil
			}
		}
	}
	return n, nil
}

// VerifyOCI checks the model manifest desc in target: it lists the
// referrers, verifies every bundle among them cryptographically, and
// succeeds when an authority signed the statement that binds desc's digest
// (PredicateTypeManifest, as modelverify and cosign v3 write it). The
// manifest digest covers the config, the annotations and every layer
// digest, so what was verified is byte for byte what runs. When the same
// authority also signed an OMS statement whose resources are exactly the
// manifest's layers, the result carries its name and root digest. An OMS
// statement alone (from releases that signed the layers only) does not
// verify: a copy of it pointed at another manifest with the same layers
// would. Raw layers are never downloaded; tar layers are (see
// OCIResourcesFrom).
func (v *Verifier) VerifyOCI(ctx context.Context, target manifest.Target, desc ocispec.Descriptor) (*Result, error) {
	want := digestHex(desc.Digest)
	if want == "" {
		return nil, fmt.Errorf("%w: manifest digest %s is not sha256", ErrUnsupported, desc.Digest)
	}
	m, err := fetchSignable(ctx, target, desc)
	if err != nil {
		return nil, err
	}
	actual, err := OCIResourcesFrom(ctx, target, m)
	if err != nil {
		return nil, err
	}
	var fails []error
	var bound []SignerInfo // authorities that signed the manifest binding, in order
	oms := map[string]*Result{}
	isBound := func(a string) bool {
		return slices.ContainsFunc(bound, func(s SignerInfo) bool { return s.Authority == a })
	}
	n, err := eachBundle(ctx, target, desc, func(b []byte) bool {
		vb, err := v.VerifyBundle(b)
		if err == nil && vb.PayloadType != PayloadTypeInToto {
			err = verificationErrorf(ErrPredicate, nil, "DSSE payload type %q, want %q", vb.PayloadType, PayloadTypeInToto)
		}
		if err != nil {
			fails = append(fails, err)
			return false
		}
		a := vb.Signer.Authority
		switch pt := peekPredicateType(vb.Payload); {
		case pt != PredicateTypeOMS && pt != PredicateTypeDigests && pt != PredicateTypeManifest && pt != "":
			return false // an attestation (a scan, ...), not a model signature
		case pt == PredicateTypeManifest:
			if err := checkManifestStatement(vb.Payload, want); err != nil {
				fails = append(fails, err)
				return false
			}
			if !isBound(a) {
				bound = append(bound, vb.Signer)
			}
		default:
			r, err := omsResult(vb, actual)
			if err != nil {
				fails = append(fails, err)
				return false
			}
			if oms[a] == nil {
				r.Bundle = b
				oms[a] = r
			}
		}
		return isBound(a) && oms[a] != nil
	})
	for _, s := range bound {
		if r := oms[s.Authority]; r != nil {
			r.ManifestDigest = desc.Digest.String()
			return r, nil
		}
	}
	if len(bound) > 0 {
		return &Result{
			Signer: bound[0], Digest: want, Resources: len(actual),
			PredicateType: PredicateTypeManifest, ManifestDigest: desc.Digest.String(),
		}, nil
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, verificationErrorf(ErrNoSignature, nil, "%s has no signature referrer", desc.Digest)
	}
	for _, e := range fails {
		if errors.Is(e, ErrManifestDigest) {
			return nil, e
		}
	}
	for a := range oms {
		return nil, verificationErrorf(ErrManifestDigest, nil,
			"%s has a signature by %s of its layers only, which does not bind the manifest (config and annotations); sign it again", desc.Digest, a)
	}
	if len(fails) == 0 {
		return nil, verificationErrorf(ErrNoSignature, nil, "%s has no model signature referrer", desc.Digest)
	}
	return nil, bestFailure(fails)
}

// omsResult checks a verified OMS statement against the layers of a model
// manifest.
func omsResult(vb *Verified, actual []Resource) (*Result, error) {
	st, err := ParseStatement(vb.Payload)
	if err != nil {
		return nil, err
	}
	if st.Predicate.Serialization.Method != MethodFiles {
		return nil, verificationErrorf(ErrResources, nil, "an OCI model is signed with the files method, not %q", st.Predicate.Serialization.Method)
	}
	if err := CompareResources(MethodFiles, st.Predicate.Resources, actual); err != nil {
		return nil, err
	}
	return &Result{
		Signer: vb.Signer, Name: st.Subject[0].Name, Digest: st.SubjectDigest(),
		Method: MethodFiles, Resources: len(st.Predicate.Resources), PredicateType: cmp.Or(st.Legacy, st.PredicateType),
		Statement: st,
	}, nil
}

// bestFailure picks the most telling of several candidates' failures: a
// verification error that got furthest (resources, then subject, predicate,
// signature), or else the first error.
func bestFailure(errs []error) error {
	for _, reason := range []error{ErrManifestDigest, ErrResources, ErrSubjectDigest, ErrPredicate, ErrSignature} {
		for _, e := range errs {
			if IsVerificationError(e) && errors.Is(e, reason) {
				if len(errs) > 1 {
					return &VerificationError{Reason: reason, Detail: fmt.Sprintf("none of %d signatures verified; closest", len(errs)), Err: e}
				}
				return e
			}
		}
	}
	return errs[0]
}

// bundlePredicateType peeks at an (unverified) bundle's predicate type.
// Used only to classify a candidate that already failed.
func bundlePredicateType(bundleJSON []byte) string {
	b, err := ParseBundle(bundleJSON)
	if err != nil {
		return ""
	}
	return peekPredicateType(b.GetDsseEnvelope().GetPayload())
}

// digestHex returns the hex part of a sha256 digest.
func digestHex(d digest.Digest) string {
	if d.Algorithm() != digest.SHA256 {
		return ""
	}
	return d.Encoded()
}
