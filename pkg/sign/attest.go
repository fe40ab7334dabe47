package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// An attestation is a signed in-toto statement about a model, of any
// predicate type other than the model signature's own: the scan
// attestation of package scan/attest is one. This file signs, pushes,
// finds and verifies them without reading their predicates.

// Attestation is a verified attestation: who signed it and the statement
// it carries, for the caller to parse by its predicate type.
type Attestation struct {
	Signer  SignerInfo `json:"signer"`
	Payload []byte     `json:"-"`
}

// Payloads are the statements of atts, in order.
func Payloads(atts []*Attestation) [][]byte {
	out := make([][]byte, len(atts))
	for i, a := range atts {
		out[i] = a.Payload
	}
	return out
}

// VerifyAttestation verifies bundleJSON as an attestation of predicateType
// about the model with sha256 digest sha256Hex, and returns its statement.
func (v *Verifier) VerifyAttestation(bundleJSON []byte, predicateType, sha256Hex string) (*Attestation, error) {
	vb, err := v.VerifyBundle(bundleJSON)
	if err != nil {
		return nil, err
	}
	if vb.PayloadType != PayloadTypeInToto {
		return nil, verificationErrorf(ErrPredicate, nil, "DSSE payload type %q", vb.PayloadType)
	}
	var st struct {
		Type          string    `json:"_type"`
		Subject       []Subject `json:"subject"`
		PredicateType string    `json:"predicateType"`
	}
	if len(vb.Payload) > maxStatementSize {
		return nil, verificationErrorf(ErrPredicate, nil, "statement of %d bytes is too large", len(vb.Payload))
	}
	if err := json.NewDecoder(bytes.NewReader(vb.Payload)).Decode(&st); err != nil {
		return nil, verificationErrorf(ErrPredicate, err, "statement is not valid JSON")
	}
	if st.Type != StatementTypeV1 || st.PredicateType != predicateType {
		return nil, verificationErrorf(ErrPredicate, nil, "predicate type %q, want %q", st.PredicateType, predicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != sha256Hex {
		return nil, verificationErrorf(ErrSubjectDigest, nil, "the attestation is about another model")
	}
	return &Attestation{Signer: vb.Signer, Payload: vb.Payload}, nil
}

// AttestOCI signs statement, an in-toto statement of predicateType about
// the model manifest desc, and pushes it as a referrer of desc.
func AttestOCI(ctx context.Context, s *Signer, target manifest.Target, desc ocispec.Descriptor, statement any, predicateType string) (ocispec.Descriptor, error) {
	b, err := s.Sign(ctx, statement)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return PushBundle(ctx, target, desc, b, predicateType)
}

// SubjectHex is the sha256 hex of a manifest digest, the subject
// digest of attestations about it; it fails for another algorithm.
func SubjectHex(desc ocispec.Descriptor) (string, error) {
	h := digestHex(desc.Digest)
	if h == "" {
		return "", fmt.Errorf("%w: manifest digest %s is not sha256", ErrUnsupported, desc.Digest)
	}
	return h, nil
}

// AttestFolder signs an attestation about the model folder (or file) at
// target and writes it to sigPath ("" means DefaultAttestationPath). Its
// subject is the OMS root digest of the files that the model's signature
// covers; statement builds the statement from the model's name and that
// digest. It returns the root digest.
func AttestFolder(ctx context.Context, s *Signer, target, sigPath string, opts FolderOptions, statement func(name, sha256Hex string) any) (string, error) {
	if sigPath == "" {
		sigPath = DefaultAttestationPath(target)
	}
	modelSig := DefaultSignaturePath(target)
	if ser, ok := signedSerialization(modelSig); ok {
		// Hash the files the model signature covers, so that the subject is
		// the root digest that verifying the signature yields. The
		// parameters are read unverified; they only choose which files are
		// hashed, and the result is compared with a verified signature.
		opts.Method, opts.ShardSize, opts.AllowSymlinks = ser.Method, ser.ShardSize, ser.AllowSymlinks
		opts.IgnorePaths = append(opts.IgnorePaths, ser.IgnorePaths...)
	}
	opts.IgnorePaths = append(append([]string{}, opts.IgnorePaths...), absOr(sigPath), absOr(modelSig))
	m, err := HashFolder(ctx, target, opts)
	if err != nil {
		return "", err
	}
	st, err := NewStatement(m)
	if err != nil {
		return "", err
	}
	root := st.SubjectDigest()
	b, err := s.Sign(ctx, statement(m.Name, root))
	if err != nil {
		return "", err
	}
	return root, writeFileAtomic(sigPath, b)
}

// DefaultAttestationPath is where a folder's attestation is written:
// model.scan.sig beside DefaultSignaturePath.
func DefaultAttestationPath(target string) string {
	return attestationPathFor(DefaultSignaturePath(target))
}

// VerifyAttestationsOCI returns every attestation of predicateType among
// the referrers of desc that an authority signed about desc's digest.
// When none verifies it returns the most telling failure, or an error
// wrapping ErrNoSignature when there is no candidate at all.
func (v *Verifier) VerifyAttestationsOCI(ctx context.Context, target manifest.Target, desc ocispec.Descriptor, predicateType string) ([]*Attestation, error) {
	h, err := SubjectHex(desc)
	if err != nil {
		return nil, err
	}
	var found []*Attestation
	var fails []error
	_, err = eachBundle(ctx, target, desc, func(b []byte) bool {
		a, err := v.VerifyAttestation(b, predicateType, h)
		if err != nil {
			if bundlePredicateType(b) == predicateType { // other statements are skipped
				fails = append(fails, err)
			}
			return false
		}
		found = append(found, a)
		return false
	})
	if err != nil && len(found) == 0 {
		return nil, err
	}
	if len(found) > 0 {
		return found, nil
	}
	if len(fails) > 0 {
		return nil, bestFailure(fails)
	}
	return nil, verificationErrorf(ErrNoSignature, nil, "%s has no attestation of type %s", desc.Digest, predicateType)
}

// signedSerialization reads, without verifying it, the serialization that
// the OMS signature at path records.
func signedSerialization(path string) (Serialization, bool) {
	data, err := ReadSignatureFile(path)
	if err != nil {
		return Serialization{}, false
	}
	b, err := ParseBundle(data)
	if err != nil {
		return Serialization{}, false
	}
	st, err := ParseStatement(b.GetDsseEnvelope().GetPayload())
	if err != nil {
		return Serialization{}, false
	}
	return st.Predicate.Serialization, true
}
