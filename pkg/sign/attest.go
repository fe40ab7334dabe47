package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
)

// PredicateTypeScan is the predicate type of a modelverify scan attestation.
const PredicateTypeScan = "https://modelverify.dev/scan/v1"

// ScanSignatureFileName is where a folder's scan attestation is written,
// beside model.sig.
const ScanSignatureFileName = "model.scan.sig"

// ScanFinding is one finding in a scan attestation.
type ScanFinding struct {
	Path string `json:"path"`
	scan.Finding
}

// ScanPredicate is the predicate of a scan attestation: the overall
// verdict, the highest severity found, the findings and the scanner.
type ScanPredicate struct {
	Scanner scan.Tool `json:"scanner"`
	// Verdict is dangerous if any target is, else malformed if any target
	// is, else clean.
	Verdict     scan.Verdict  `json:"verdict"`
	MaxSeverity string        `json:"maxSeverity"` // "none" when there is no finding
	Summary     scan.Summary  `json:"summary"`
	Findings    []ScanFinding `json:"findings"`
	ScannedAt   time.Time     `json:"scannedAt"`
}

// ScanStatement is an in-toto statement carrying a ScanPredicate.
type ScanStatement struct {
	Type          string        `json:"_type"`
	Subject       []Subject     `json:"subject"`
	PredicateType string        `json:"predicateType"`
	Predicate     ScanPredicate `json:"predicate"`
}

// NewScanStatement builds the scan attestation of rep about the model named
// name whose digest is sha256Hex (an OCI manifest digest or an OMS root
// digest).
func NewScanStatement(name, sha256Hex string, rep *scan.Report) *ScanStatement {
	p := ScanPredicate{Scanner: rep.Tool, Summary: rep.Summary, ScannedAt: time.Now().UTC().Truncate(time.Second), Findings: []ScanFinding{}}
	p.Verdict = scan.VerdictClean
	for _, t := range rep.Targets {
		switch t.Verdict {
		case scan.VerdictDangerous:
			p.Verdict = scan.VerdictDangerous
		case scan.VerdictMalformed:
			if p.Verdict != scan.VerdictDangerous {
				p.Verdict = scan.VerdictMalformed
			}
		}
		for _, f := range t.Findings {
			p.Findings = append(p.Findings, ScanFinding{Path: t.Path, Finding: f})
		}
	}
	p.MaxSeverity = "none"
	if s, ok := rep.MaxSeverity(); ok {
		p.MaxSeverity = s.String()
	}
	return &ScanStatement{
		Type:          StatementTypeV1,
		Subject:       []Subject{{Name: name, Digest: map[string]string{"sha256": sha256Hex}}},
		PredicateType: PredicateTypeScan,
		Predicate:     p,
	}
}

// ScanResult is a verified scan attestation.
type ScanResult struct {
	Signer    SignerInfo     `json:"signer"`
	Predicate *ScanPredicate `json:"predicate"`
}

// Satisfies reports whether the attested scan passes a policy that fails
// on findings at or above failOn: the verdict is not malformed and no
// finding reaches failOn.
func (r *ScanResult) Satisfies(failOn scan.Severity) error {
	p := r.Predicate
	if p.Verdict == scan.VerdictMalformed {
		return verificationErrorf(ErrScanPolicy, nil, "the attested scan could not read the model completely")
	}
	for _, f := range p.Findings {
		if failOn != scan.SeverityNone && f.Severity >= failOn {
			return verificationErrorf(ErrScanPolicy, nil, "%s finding %s in %s (fail at %s)", f.Severity, f.RuleID, f.Path, failOn)
		}
	}
	return nil
}

// VerifyScanAttestation verifies bundleJSON as a scan attestation about the
// model with digest sha256Hex.
func (v *Verifier) VerifyScanAttestation(bundleJSON []byte, sha256Hex string) (*ScanResult, error) {
	vb, err := v.VerifyBundle(bundleJSON)
	if err != nil {
		return nil, err
	}
	if vb.PayloadType != PayloadTypeInToto {
		return nil, verificationErrorf(ErrPredicate, nil, "DSSE payload type %q", vb.PayloadType)
	}
	var st ScanStatement
	dec := json.NewDecoder(bytes.NewReader(vb.Payload))
	if err := dec.Decode(&st); err != nil {
		return nil, verificationErrorf(ErrPredicate, err, "scan statement is not valid JSON")
	}
	if st.Type != StatementTypeV1 || st.PredicateType != PredicateTypeScan {
		return nil, verificationErrorf(ErrPredicate, nil, "predicate type %q, want %q", st.PredicateType, PredicateTypeScan)
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != sha256Hex {
		return nil, verificationErrorf(ErrSubjectDigest, nil, "the scan attestation is about another model")
	}
	return &ScanResult{Signer: vb.Signer, Predicate: &st.Predicate}, nil
}

// AttestScanOCI signs a scan attestation about the model manifest desc and
// pushes it as a referrer.
func AttestScanOCI(ctx context.Context, s *Signer, target manifest.Target, desc ocispec.Descriptor, name string, rep *scan.Report) (ocispec.Descriptor, error) {
	h := digestHex(desc.Digest)
	if h == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%w: manifest digest %s is not sha256", ErrUnsupported, desc.Digest)
	}
	b, err := s.Sign(ctx, NewScanStatement(name, h, rep))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return PushBundle(ctx, target, desc, b, PredicateTypeScan)
}

// AttestScanFolder signs a scan attestation about the model folder (or file)
// at target, whose subject is the OMS root digest of its files, and writes
// it to sigPath ("" means model.scan.sig beside the signature). It returns
// the root digest.
func AttestScanFolder(ctx context.Context, s *Signer, target, sigPath string, opts FolderOptions, rep *scan.Report) (string, error) {
	if sigPath == "" {
		sigPath = DefaultScanSignaturePath(target)
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
	b, err := s.Sign(ctx, NewScanStatement(m.Name, root, rep))
	if err != nil {
		return "", err
	}
	return root, writeFileAtomic(sigPath, b)
}

// DefaultScanSignaturePath is model.scan.sig beside DefaultSignaturePath.
func DefaultScanSignaturePath(target string) string {
	return scanSigPathFor(DefaultSignaturePath(target))
}

// VerifyScanOCI finds a scan attestation among the referrers of desc that
// an authority signed about desc's digest; with several, the most recent
// scan wins.
func (v *Verifier) VerifyScanOCI(ctx context.Context, target manifest.Target, desc ocispec.Descriptor) (*ScanResult, error) {
	var best *ScanResult
	var fails []error
	_, err := eachBundle(ctx, target, desc, func(b []byte) bool {
		r, err := v.VerifyScanAttestation(b, digestHex(desc.Digest))
		if err != nil {
			if isScanPayload(b) { // model signatures are skipped
				fails = append(fails, err)
			}
			return false
		}
		if best == nil || r.Predicate.ScannedAt.After(best.Predicate.ScannedAt) {
			best = r
		}
		return false
	})
	if err != nil && best == nil {
		return nil, err
	}
	if best != nil {
		return best, nil
	}
	if len(fails) > 0 {
		return nil, bestFailure(fails)
	}
	return nil, verificationErrorf(ErrNoSignature, nil, "%s has no scan attestation", desc.Digest)
}

// MaxSeverity is the highest attested finding severity, and false when the
// scan found nothing.
func (r *ScanResult) MaxSeverity() (scan.Severity, bool) {
	if r.Predicate.MaxSeverity == "" || r.Predicate.MaxSeverity == "none" {
		return 0, false
	}
	s, err := scan.ParseSeverity(r.Predicate.MaxSeverity)
	if err != nil {
		return scan.SeverityCritical, true // unknown: assume the worst
	}
	return s, true
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
