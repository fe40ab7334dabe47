package attest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
)

const subject = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func report() *scan.Report {
	return scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, []scan.Target{
		{Path: "a.pkl", Verdict: scan.VerdictDangerous, Findings: []scan.Finding{{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical}}},
		{Path: "b.safetensors", Verdict: scan.VerdictMalformed, Findings: []scan.Finding{{RuleID: scan.RuleMalformed, Severity: scan.SeverityMedium}}},
		{Path: "c.json", Verdict: scan.VerdictClean, Findings: []scan.Finding{}},
	})
}

func TestNewAndParseRoundTrip(t *testing.T) {
	st := attest.New("bert", subject, report())
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := attest.Parse(b, subject)
	if err != nil {
		t.Fatal(err)
	}
	if p.Verdict != scan.VerdictDangerous || p.MaxSeverity != "critical" || len(p.Findings) != 2 || p.Findings[1].Path != "b.safetensors" {
		t.Errorf("predicate %+v", p)
	}
	if _, err := attest.Parse(b, strings.Repeat("0", 64)); !errors.Is(err, attest.ErrStatement) {
		t.Errorf("another subject: %v", err)
	}
	other := strings.Replace(string(b), attest.PredicateType, "https://example.com/other", 1)
	if _, err := attest.Parse([]byte(other), subject); !errors.Is(err, attest.ErrStatement) {
		t.Errorf("another predicate type: %v", err)
	}
	for _, bad := range []string{"", "{", "[]", `{"_type":"https://in-toto.io/Statement/v1"}`} {
		if _, err := attest.Parse([]byte(bad), subject); !errors.Is(err, attest.ErrStatement) {
			t.Errorf("Parse(%q) = %v, want ErrStatement", bad, err)
		}
	}
}

func TestCheck(t *testing.T) {
	f := func(sev scan.Severity) []attest.Finding {
		return []attest.Finding{{Path: "m", Finding: scan.Finding{RuleID: scan.RuleUnknownGlobal, Severity: sev}}}
	}
	tests := []struct {
		name string
		req  attest.Requirement
		p    *attest.Predicate
		ok   bool
	}{
		{"nil", attest.Requirement{FailOn: scan.SeverityNone}, nil, false},
		{"clean", attest.Requirement{FailOn: scan.SeverityInfo}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "none"}, true},
		{"zero requirement fails every finding", attest.Requirement{}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "info", Findings: f(scan.SeverityInfo)}, false},
		{"below fail-on", attest.Requirement{FailOn: scan.SeverityHigh}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "medium", Findings: f(scan.SeverityMedium)}, true},
		{"at fail-on", attest.Requirement{FailOn: scan.SeverityHigh}, &attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: "high", Findings: f(scan.SeverityHigh)}, false},
		{"none lets findings through", attest.Requirement{FailOn: scan.SeverityNone}, &attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: "critical", Findings: f(scan.SeverityCritical)}, true},
		{"none still refuses malformed", attest.Requirement{FailOn: scan.SeverityNone}, &attest.Predicate{Verdict: scan.VerdictMalformed}, false},
		{"none still refuses dangerous without findings", attest.Requirement{FailOn: scan.SeverityNone}, &attest.Predicate{Verdict: scan.VerdictDangerous}, false},
		{"unsupported", attest.Requirement{FailOn: scan.SeverityNone}, &attest.Predicate{Verdict: scan.VerdictUnsupported}, false},
		{"unknown verdict", attest.Requirement{FailOn: scan.SeverityNone}, &attest.Predicate{Verdict: "ok"}, false},
		{"declared severity counts", attest.Requirement{FailOn: scan.SeverityHigh}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "high"}, false},
		{"unknown declared severity is critical", attest.Requirement{FailOn: scan.SeverityCritical}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "severe"}, false},
		{"the findings count when the declaration hides them", attest.Requirement{FailOn: scan.SeverityHigh}, &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "none", Findings: f(scan.SeverityCritical)}, false},
	}
	for _, tt := range tests {
		err := tt.req.Check(tt.p)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Check = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, attest.ErrRejected) {
			t.Errorf("%s: %v does not wrap ErrRejected", tt.name, err)
		}
	}
}

func TestAllowUpTo(t *testing.T) {
	for max := scan.SeverityInfo; max <= scan.SeverityNone; max++ {
		req := attest.AllowUpTo(max)
		for sev := scan.SeverityInfo; sev <= scan.SeverityCritical; sev++ {
			p := &attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: sev.String(),
				Findings: []attest.Finding{{Path: "m", Finding: scan.Finding{Severity: sev}}}}
			if got := req.Check(p) == nil; got != (max != scan.SeverityNone && sev <= max) {
				t.Errorf("AllowUpTo(%s) on a %s finding: pass = %v", max, sev, got)
			}
		}
	}
}

func TestParseLatest(t *testing.T) {
	st1, st2 := attest.New("m", subject, report()), attest.New("m", subject, report())
	st2.Predicate.ScannedAt = st1.Predicate.ScannedAt.Add(1)
	b1, _ := json.Marshal(st1)
	b2, _ := json.Marshal(st2)
	i, p, err := attest.ParseLatest([][]byte{b1, []byte("{"), b2}, subject)
	if err != nil || i != 2 || !p.ScannedAt.Equal(st2.Predicate.ScannedAt) {
		t.Errorf("ParseLatest picked %d %v %v", i, p, err)
	}
	if _, _, err := attest.ParseLatest([][]byte{[]byte("{")}, subject); !errors.Is(err, attest.ErrStatement) {
		t.Errorf("nothing parses: %v", err)
	}
	if _, _, err := attest.ParseLatest(nil, subject); !errors.Is(err, attest.ErrStatement) {
		t.Errorf("no payload: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := json.Marshal(attest.New("bert", subject, report()))
	f.Add(b)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://modelverify.dev/scan/v1","subject":[{"digest":{"sha256":"` + subject + `"}}],"predicate":{"maxSeverity":"x","findings":[{"severity":"nope"}]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := attest.Parse(payload, subject)
		if err != nil {
			if !errors.Is(err, attest.ErrStatement) {
				t.Fatalf("error %v does not wrap ErrStatement", err)
			}
			return
		}
		// Whatever parses is judged without panicking, and a requirement
		// that lets every finding through still needs a readable verdict.
		err = (attest.Requirement{FailOn: scan.SeverityNone}).Check(p)
		if err == nil && p.Verdict != scan.VerdictClean && p.Verdict != scan.VerdictDangerous {
			t.Fatalf("verdict %q passed", p.Verdict)
		}
	})
}
