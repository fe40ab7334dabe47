// Package attest is the scan attestation: the in-toto statement that says
// what a scan of a model found, and the one rule that decides whether such
// a statement lets a model through. verify --require-scan, admit and the
// admission webhook all judge attestations with Requirement.Check.
//
// Signing and verifying the statement is package sign's job, which treats
// it as a statement of any other predicate type; this package never sees a
// key or a bundle.
package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelverify/modelverify/pkg/scan"
)

// PredicateType is the predicate type of a modelverify scan attestation.
const PredicateType = "https://modelverify.dev/scan/v1"

// StatementType is the in-toto statement type the attestation uses.
const StatementType = "https://in-toto.io/Statement/v1"

// MaxPayloadBytes bounds a statement's size when it is parsed.
const MaxPayloadBytes = 64 << 20

// Errors of Parse and Check.
var (
	// ErrStatement: the payload is not a scan statement about the model.
	ErrStatement = errors.New("not a scan attestation about this model")
	// ErrRejected: the attested scan does not meet the requirement.
	ErrRejected = errors.New("the attested scan does not meet the requirement")
)

// Finding is one finding in a scan attestation, with the target it was in.
type Finding struct {
	Path string `json:"path"`
	scan.Finding
}

// Predicate is what the scan found: the overall verdict, the highest
// severity, the findings and the scanner.
type Predicate struct {
	Scanner scan.Tool `json:"scanner"`
	// Verdict is dangerous if any target is, else malformed if any target
	// is, else clean.
	Verdict     scan.Verdict `json:"verdict"`
	MaxSeverity string       `json:"maxSeverity"` // "none" when there is no finding
	Summary     scan.Summary `json:"summary"`
	Findings    []Finding    `json:"findings"`
	ScannedAt   time.Time    `json:"scannedAt"`
}

// Subject names the model the statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto statement carrying a Predicate.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// New builds the scan attestation of rep about the model named name whose
// digest is sha256Hex (an OCI manifest digest or an OMS root digest).
func New(name, sha256Hex string, rep *scan.Report) *Statement {
	p := Predicate{Scanner: rep.Tool, Summary: rep.Summary, ScannedAt: time.Now().UTC().Truncate(time.Second), Findings: []Finding{}}
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
			p.Findings = append(p.Findings, Finding{Path: t.Path, Finding: f})
		}
	}
	p.MaxSeverity = "none"
	if s, ok := rep.MaxSeverity(); ok {
		p.MaxSeverity = s.String()
	}
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{"sha256": sha256Hex}}},
		PredicateType: PredicateType,
		Predicate:     p,
	}
}

// Parse reads a verified in-toto payload as a scan statement about the
// model with digest sha256Hex and returns its predicate.
func Parse(payload []byte, sha256Hex string) (*Predicate, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: statement of %d bytes is over the %d-byte limit", ErrStatement, len(payload), MaxPayloadBytes)
	}
	var st Statement
	if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: statement is not valid JSON: %v", ErrStatement, err)
	}
	if st.Type != StatementType || st.PredicateType != PredicateType {
		return nil, fmt.Errorf("%w: predicate type %q, want %q", ErrStatement, st.PredicateType, PredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != sha256Hex {
		return nil, fmt.Errorf("%w: the scan attestation is about another model", ErrStatement)
	}
	return &st.Predicate, nil
}

// ParseLatest parses verified payloads about the model with digest
// sha256Hex and returns the index and predicate of the one scanned last:
// with several attestations by one signer, the most recent scan counts.
// When none parses it returns the first error (ErrStatement), or
// ErrStatement itself for no payload at all.
func ParseLatest(payloads [][]byte, sha256Hex string) (int, *Predicate, error) {
	best, bestAt := -1, (*Predicate)(nil)
	var firstErr error
	for i, b := range payloads {
		p, err := Parse(b, sha256Hex)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if bestAt == nil || p.ScannedAt.After(bestAt.ScannedAt) {
			best, bestAt = i, p
		}
	}
	if bestAt == nil {
		if firstErr == nil {
			firstErr = fmt.Errorf("%w: no attestation", ErrStatement)
		}
		return -1, nil, firstErr
	}
	return best, bestAt, nil
}

// Worst is the highest severity the predicate attests: the highest of its
// findings and of its declared MaxSeverity (an unknown name counts as
// critical), and false when it attests none.
func (p *Predicate) Worst() (scan.Severity, bool) {
	worst, any := scan.SeverityInfo, false
	for _, f := range p.Findings {
		if !any || f.Severity > worst {
			worst, any = f.Severity, true
		}
	}
	if p.MaxSeverity != "" && p.MaxSeverity != "none" {
		s, err := scan.ParseSeverity(p.MaxSeverity)
		if err != nil || s >= scan.SeverityNone {
			s = scan.SeverityCritical
		}
		if !any || s > worst {
			worst, any = s, true
		}
	}
	return worst, any
}

// Requirement is what an attested scan must show for a model to pass.
type Requirement struct {
	// FailOn is the lowest severity that fails, as scan --fail-on:
	// SeverityNone lets findings of every severity through.
	FailOn scan.Severity
}

// AllowUpTo is the requirement that admits findings up to and including
// max, which is how an admission policy's maxSeverity reads: SeverityNone
// (maxSeverity: none) admits no finding at all.
func AllowUpTo(max scan.Severity) Requirement {
	switch {
	case max >= scan.SeverityNone:
		return Requirement{FailOn: scan.SeverityInfo}
	case max == scan.SeverityCritical:
		return Requirement{FailOn: scan.SeverityNone}
	}
	return Requirement{FailOn: max + 1}
}

func (q Requirement) limit() string {
	if q.FailOn == scan.SeverityInfo {
		return "and every finding fails"
	}
	return "failing at " + q.FailOn.String()
}

// Check returns nil when p meets the requirement, and an error wrapping
// ErrRejected that says why when it does not. A scan passes when its
// verdict is clean or dangerous, it attests no finding at or above FailOn,
// and a dangerous verdict comes with the findings that made it so. A
// malformed, unsupported or unknown verdict never passes: the scan did not
// read the model completely, or says something this rule does not know.
func (q Requirement) Check(p *Predicate) error {
	if p == nil {
		return fmt.Errorf("%w: no scan", ErrRejected)
	}
	switch p.Verdict {
	case scan.VerdictMalformed:
		return fmt.Errorf("%w: the attested scan could not read the model completely (malformed)", ErrRejected)
	case scan.VerdictUnsupported:
		return fmt.Errorf("%w: the attested scan says the model format is unsupported", ErrRejected)
	case scan.VerdictClean, scan.VerdictDangerous:
	default:
		return fmt.Errorf("%w: the attested scan has unknown verdict %q", ErrRejected, p.Verdict)
	}
	worst, any := p.Worst()
	if any && q.FailOn != scan.SeverityNone && worst >= q.FailOn {
		for _, f := range p.Findings {
			if f.Severity == worst {
				return fmt.Errorf("%w: the attested scan reports %s findings (%s in %s), %s", ErrRejected, f.Severity, f.RuleID, f.Path, q.limit())
			}
		}
		return fmt.Errorf("%w: the attested scan declares %s findings, %s", ErrRejected, worst, q.limit())
	}
	if p.Verdict == scan.VerdictDangerous && len(p.Findings) == 0 {
		return fmt.Errorf("%w: the attested scan says dangerous but lists no finding", ErrRejected)
	}
	return nil
}
