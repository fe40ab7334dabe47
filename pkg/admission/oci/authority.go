package oci

import (
	"context"
	"errors"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// authority checks one policy authority's evidence in a registry.
type authority struct {
	reg  *Registry
	name string
	v    *sign.Verifier
}

var _ admission.Authority = (*authority)(nil)

// CompileAuthority reads the authority's key (from a file, inline, from a
// KMS or from a PKCS#11 token), certificate roots or trusted root into a
// sign.Trust and compiles its verifier.
func (r *Registry) CompileAuthority(spec admission.AuthoritySpec) (admission.Authority, error) {
	var t sign.Trust
	switch {
	case spec.Key != nil:
		k := sign.TrustedKey{Name: spec.Key.Path, URI: spec.Key.KMS + spec.Key.PKCS11} // at most one is set
		if k.URI == "" {
			pem, err := spec.Key.Read()
			if err != nil {
				return nil, fmt.Errorf("key: %w", err)
			}
			k.PEM = pem
		}
		t.Keys = []sign.TrustedKey{k}
	case spec.Certificate != nil:
		pem, err := spec.Certificate.Roots.Read()
		if err != nil {
			return nil, fmt.Errorf("certificate roots: %w", err)
		}
		roots, err := sign.ParseCertificatesPEM(pem)
		if err != nil {
			return nil, fmt.Errorf("certificate roots: %w", err)
		}
		t.CertificateRoots = roots
		for _, id := range spec.Certificate.Identities {
			t.CertificateIdentities = append(t.CertificateIdentities, identity(id))
		}
	case spec.Keyless != nil:
		data, err := admission.Source{Path: spec.Keyless.TrustedRoot}.Read()
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w", err)
		}
		tr, err := sign.LoadTrustedRoot(data)
		if err != nil {
			return nil, fmt.Errorf("trusted root %s: %w", spec.Keyless.TrustedRoot, err)
		}
		t.TrustedRoot = tr
		for _, id := range spec.Keyless.Identities {
			t.KeylessIdentities = append(t.KeylessIdentities, identity(id))
		}
	default:
		return nil, errors.New("no key, certificate or keyless trust")
	}
	// Compiling has no context of its own (it runs at start and on
	// reload), and a key service that does not answer must not hold a
	// reload forever: the previous policy stays in force until one
	// succeeds.
	ctx, cancel := context.WithTimeout(context.Background(), keyServiceTimeout)
	defer cancel()
	v, err := t.Verifier(ctx)
	if err != nil {
		return nil, err
	}
	return &authority{reg: r, name: spec.Name, v: v}, nil
}

// keyServiceTimeout bounds the fetch of a KMS or PKCS#11 key's public key
// at compile time.
const keyServiceTimeout = 30 * time.Second

func identity(id admission.IdentitySpec) sign.Identity {
	return sign.Identity{Subject: id.Subject, SubjectRegexp: id.SubjectRegExp, Issuer: id.Issuer, IssuerRegexp: id.IssuerRegExp}
}

// pinned opens the repository and resolves the pinned digest.
func (a *authority) pinned(ctx context.Context, ref admission.Reference) (manifest.Target, ocispec.Descriptor, error) {
	if !ref.Pinned() {
		return nil, ocispec.Descriptor{}, fmt.Errorf("%s is not pinned to a digest", ref)
	}
	t, _, err := a.reg.open(ctx, ref)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	desc, err := t.Resolve(ctx, ref.Digest)
	if errors.Is(err, errdef.ErrNotFound) {
		// A definite answer: nothing with this digest is there to run.
		return nil, ocispec.Descriptor{}, fmt.Errorf("%w: the registry has no manifest %s (%v)", admission.ErrNotVerified, ref, err)
	}
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if desc.Digest.String() != ref.Digest {
		return nil, ocispec.Descriptor{}, fmt.Errorf("resolve %s: registry returned %s", ref, desc.Digest)
	}
	return t, desc, nil
}

// VerifySignature checks that a model signature by this authority is among
// the referrers of the model manifest and matches its layers.
func (a *authority) VerifySignature(ctx context.Context, ref admission.Reference) error {
	t, desc, err := a.pinned(ctx, ref)
	if err != nil {
		return err
	}
	_, err = a.v.VerifyOCI(ctx, t, desc)
	return classify(err)
}

// VerifiedScan returns the most recent scan attestation about the manifest
// digest that this authority signed.
func (a *authority) VerifiedScan(ctx context.Context, ref admission.Reference) (*attest.Predicate, error) {
	t, desc, err := a.pinned(ctx, ref)
	if err != nil {
		return nil, err
	}
	atts, err := a.v.VerifyAttestationsOCI(ctx, t, desc, attest.PredicateType)
	if err != nil {
		if errors.Is(err, sign.ErrNoSignature) {
			return nil, fmt.Errorf("%w: %v", admission.ErrNoScan, err)
		}
		return nil, classify(err)
	}
	_, p, err := attest.ParseLatest(sign.Payloads(atts), desc.Digest.Encoded())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", admission.ErrNotVerified, err)
	}
	return p, nil
}

// classify turns "the artifact is bad" (from pkg/sign or pkg/manifest) into
// admission.ErrNotVerified and leaves every other error as "could not
// decide".
func classify(err error) error {
	if err == nil {
		return nil
	}
	if manifest.IsBadArtifact(err) {
		return fmt.Errorf("%w: %v", admission.ErrNotVerified, err)
	}
	return err
}
