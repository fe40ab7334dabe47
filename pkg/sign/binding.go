package sign

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// PredicateTypeManifest is the predicate type of the statement that binds
// an OCI artifact's manifest digest: the one cosign v3 writes for `cosign
// sign` and that cosign, Kyverno and sigstore's policy-controller verify.
const PredicateTypeManifest = "https://sigstore.dev/cosign/sign/v1"

// ManifestStatement is an in-toto statement whose subject is one manifest
// digest, with an empty predicate. Its only subject has no name, as cosign
// writes it; Annotations are the subject's (cosign's `-a key=value`).
type ManifestStatement struct {
	Type          string            `json:"_type"`
	Subject       []ManifestSubject `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     map[string]any    `json:"predicate"`
}

// ManifestSubject is a subject of a ManifestStatement.
type ManifestSubject struct {
	Name        string            `json:"name,omitempty"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// NewManifestStatement builds the statement that binds the manifest desc.
func NewManifestStatement(desc ocispec.Descriptor) (*ManifestStatement, error) {
	h := digestHex(desc.Digest)
	if h == "" {
		return nil, fmt.Errorf("%w: manifest digest %s is not sha256", ErrUnsupported, desc.Digest)
	}
	return &ManifestStatement{
		Type:          StatementTypeV1,
		Subject:       []ManifestSubject{{Digest: map[string]string{"sha256": h}}},
		PredicateType: PredicateTypeManifest,
		Predicate:     map[string]any{},
	}, nil
}

// SignManifest signs the statement that binds the manifest desc and pushes
// it as a referrer of desc, in the layout cosign v3 writes.
func SignManifest(ctx context.Context, s *Signer, target manifest.Target, desc ocispec.Descriptor) (ocispec.Descriptor, error) {
	st, err := NewManifestStatement(desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	b, err := s.Sign(ctx, st)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return PushBundle(ctx, target, desc, b, PredicateTypeManifest)
}

// peekPredicateType reads the predicate type of an in-toto payload without
// trusting it; "" when the payload is not a statement.
func peekPredicateType(payload []byte) string {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}

// checkManifestStatement checks that a verified payload binds the manifest
// with sha256 digest wantHex. A statement with several subjects binds each
// of them (cosign accepts any subject that matches).
func checkManifestStatement(payload []byte, wantHex string) error {
	var st ManifestStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return verificationErrorf(ErrPredicate, err, "manifest statement is not valid JSON")
	}
	if st.Type != StatementTypeV1 || st.PredicateType != PredicateTypeManifest {
		return verificationErrorf(ErrPredicate, nil, "statement type %q predicate %q, want %q", st.Type, st.PredicateType, PredicateTypeManifest)
	}
	var signed []string
	for _, s := range st.Subject {
		if d, ok := s.Digest["sha256"]; ok {
			if d == wantHex {
				return nil
			}
			signed = append(signed, "sha256:"+d)
		}
	}
	return verificationErrorf(ErrManifestDigest, nil, "the signature is for manifest %v, not sha256:%s", signed, wantHex)
}
