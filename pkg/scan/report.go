package scan

import (
	"errors"
	"slices"
)

// Verdict is the outcome for one target.
type Verdict string

const (
	VerdictClean       Verdict = "clean"
	VerdictDangerous   Verdict = "dangerous"   // a finding at or above the fail-on severity
	VerdictMalformed   Verdict = "malformed"   // could not be read completely (includes limit hits)
	VerdictUnsupported Verdict = "unsupported" // not a format the scanner knows; nothing in it can run
)

// Target is the report for one file or artifact layer.
type Target struct {
	Path     string    `json:"path"`
	Digest   string    `json:"digest,omitempty"`
	Size     int64     `json:"size"`
	Format   string    `json:"format"`
	Verdict  Verdict   `json:"verdict"`
	Findings []Finding `json:"findings"`
	// Error says why a malformed or unreadable target could not be read.
	Error string `json:"error,omitempty"`
	// rawCandidate marks an unrecognised .bin file, judged by NewReport
	// against the other files of its folder.
	rawCandidate bool
}

// Tool names the scanner that wrote a report.
type Tool struct {
	Name             string `json:"name"`
	Version          string `json:"version"`
	AllowlistVersion string `json:"allowlistVersion,omitempty"`
}

// Summary counts targets by verdict.
type Summary struct {
	Targets     int `json:"targets"`
	Dangerous   int `json:"dangerous"`
	Malformed   int `json:"malformed"`
	Clean       int `json:"clean"`
	Unsupported int `json:"unsupported"`
}

// Report is the JSON report (schemaVersion 1).
type Report struct {
	SchemaVersion int      `json:"schemaVersion"`
	Tool          Tool     `json:"tool"`
	Targets       []Target `json:"targets"`
	Summary       Summary  `json:"summary"`
}

// NewReport builds a report from targets, sorted by path, with the summary
// filled in. A .bin file that no format recognised is unsupported when
// another target of its folder describes raw data files (an ONNX model, an
// OpenVINO .xml, a TensorFlow.js model.json), and malformed otherwise: pass
// every target of one scan at once.
func NewReport(tool Tool, targets []Target) *Report {
	judgeRawData(targets)
	slices.SortStableFunc(targets, func(a, b Target) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	r := &Report{SchemaVersion: 1, Tool: tool, Targets: targets}
	for _, t := range targets {
		r.Summary.Targets++
		switch t.Verdict {
		case VerdictDangerous:
			r.Summary.Dangerous++
		case VerdictMalformed:
			r.Summary.Malformed++
		case VerdictClean:
			r.Summary.Clean++
		case VerdictUnsupported:
			r.Summary.Unsupported++
		}
	}
	return r
}

// MaxSeverity is the highest severity among the report's findings, and false
// when there are none.
func (r *Report) MaxSeverity() (Severity, bool) {
	var max Severity
	found := false
	for _, t := range r.Targets {
		for _, f := range t.Findings {
			if !found || f.Severity > max {
				max, found = f.Severity, true
			}
		}
	}
	return max, found
}

// verdict decides a target's verdict from its findings and the error that
// ended its scan. Something dangerous wins over malformed: Python runs a
// REDUCE before it reaches the broken byte after it.
func verdict(findings []Finding, err error, failOn Severity) Verdict {
	for _, f := range findings {
		if f.Severity >= failOn && f.Severity != SeverityNone {
			return VerdictDangerous
		}
	}
	for _, f := range findings {
		if f.RuleID == RuleLimit || f.RuleID == RuleMalformed || f.RuleID == RuleNothingScanned {
			return VerdictMalformed
		}
	}
	switch {
	case err == nil:
		return VerdictClean
	case errors.Is(err, ErrUnsupported):
		return VerdictUnsupported
	default:
		return VerdictMalformed
	}
}
