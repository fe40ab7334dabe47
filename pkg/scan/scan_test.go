package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

func TestSeverityNamesRoundTrip(t *testing.T) {
	for _, name := range []string{"info", "low", "medium", "high", "critical", "none"} {
		s, err := scan.ParseSeverity(strings.ToUpper(name))
		if err != nil || s.String() != name {
			t.Errorf("%s: got %v, %v", name, s, err)
		}
	}
	if _, err := scan.ParseSeverity("severe"); err == nil {
		t.Error("an unknown severity parsed")
	}
	if !(scan.SeverityCritical > scan.SeverityHigh && scan.SeverityHigh > scan.SeverityMedium && scan.SeverityNone > scan.SeverityCritical) {
		t.Error("severities are out of order")
	}
}

func TestPolicyParsing(t *testing.T) {
	p, err := scan.ParsePolicy([]byte("apiVersion: modelverify.dev/v1alpha1\nkind: ScanPolicy\nallow: [\"mypkg.*\", \"other.mod.Net\"]\ndeny: [\"mypkg.bad.*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		module, name   string
		allows, denies bool
	}{
		{"mypkg", "Net", true, false},
		{"mypkg.layers", "Block", true, false},
		{"mypkgx", "Net", false, false},
		{"other.mod", "Net", true, false},
		{"other.mod", "Other", false, false},
		{"mypkg.bad.x", "f", true, true},
	} {
		if p.Allows(c.module, c.name) != c.allows || p.Denies(c.module, c.name) != c.denies {
			t.Errorf("%s.%s: allows %v denies %v", c.module, c.name, p.Allows(c.module, c.name), p.Denies(c.module, c.name))
		}
	}
	for _, bad := range []string{"alow: [x.y]\n", "kind: ModelPolicy\n", "allow: [\"has space.x\"]\n", "allow: [\".x\"]\n"} {
		if _, err := scan.ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// stubFormat reports what it is told to, for testing the dispatcher alone.
type stubFormat struct {
	magic    string
	findings []scan.Finding
	err      error
	nested   bool
}

func (f stubFormat) Name() string { return "stub-" + f.magic }
func (f stubFormat) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte(f.magic))
}
func (f stubFormat) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	for _, fd := range f.findings {
		s.Report(fd)
	}
	if f.nested {
		inner := []byte("BAD")
		res, err := s.Nested(ctx, "inner", bytes.NewReader(inner), int64(len(inner)))
		if err != nil {
			return err
		}
		if !res.Complete || res.MaxSeverity != scan.SeverityCritical || res.Format != "stub-BAD" {
			return errors.New("nested summary is wrong")
		}
	}
	return f.err
}

func TestVerdicts(t *testing.T) {
	crit := scan.Finding{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical, Message: "x"}
	med := scan.Finding{RuleID: scan.RuleUnknownGlobal, Severity: scan.SeverityMedium, Message: "x"}
	formats := []scan.Format{
		stubFormat{magic: "BAD", findings: []scan.Finding{crit}},
		stubFormat{magic: "BROKEN", findings: []scan.Finding{crit}, err: scan.Malformedf("cut short")},
		stubFormat{magic: "LIMIT", err: &scan.LimitError{Limit: "max-memo", Max: 1}},
		stubFormat{magic: "MED", findings: []scan.Finding{med}},
		stubFormat{magic: "NEST", nested: true},
	}
	sc := scan.MustNew(scan.Options{Formats: formats})
	tests := []struct {
		content string
		want    scan.Verdict
		rule    string
	}{
		{"BAD...", scan.VerdictDangerous, scan.RuleDangerousGlobal},
		{"BROKEN", scan.VerdictDangerous, scan.RuleDangerousGlobal},
		{"LIMIT", scan.VerdictMalformed, scan.RuleLimit},
		{"MED", scan.VerdictClean, scan.RuleUnknownGlobal},
		{"NEST", scan.VerdictDangerous, scan.RuleDangerousGlobal},
		{"other", scan.VerdictUnsupported, ""},
	}
	for _, tt := range tests {
		got := sc.ScanReaderAt(context.Background(), tt.content, strings.NewReader(tt.content), int64(len(tt.content)))
		if got.Verdict != tt.want {
			t.Errorf("%s: verdict %s, want %s (%+v)", tt.content, got.Verdict, tt.want, got)
		}
		if tt.rule != "" && (len(got.Findings) == 0 || got.Findings[0].RuleID != tt.rule) {
			t.Errorf("%s: findings %+v, want %s first", tt.content, got.Findings, tt.rule)
		}
	}
	if got := sc.ScanReaderAt(context.Background(), "n", strings.NewReader("NEST"), 4); got.Findings[0].Member != "inner" {
		t.Errorf("nested findings carry the member path: %+v", got.Findings)
	}
	strict := scan.MustNew(scan.Options{Formats: formats, FailOn: scan.FailAt(scan.SeverityMedium)})
	if got := strict.ScanReaderAt(context.Background(), "m", strings.NewReader("MED"), 3); got.Verdict != scan.VerdictDangerous {
		t.Errorf("--fail-on medium: verdict %s", got.Verdict)
	}
}

func TestNestingDepthIsLimited(t *testing.T) {
	// A format that nests its own content forever.
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{recursive{}}, Limits: scan.Limits{MaxDepth: 5}})
	got := sc.ScanReaderAt(context.Background(), "r", strings.NewReader("R"), 1)
	if got.Verdict != scan.VerdictMalformed {
		t.Fatalf("verdict %s", got.Verdict)
	}
	found := false
	for _, f := range got.Findings {
		found = found || (f.RuleID == scan.RuleLimit && strings.Contains(f.Message, "max-depth"))
	}
	if !found {
		t.Errorf("no max-depth finding: %+v", got.Findings)
	}
}

type recursive struct{}

func (recursive) Name() string                       { return "recursive" }
func (recursive) Match(head []byte, size int64) bool { return size > 0 }
func (recursive) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	_, err := s.Nested(ctx, "again", r, size)
	return err
}

func TestSpoolChargesTheExpansionBudget(t *testing.T) {
	var got error
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{spooler{&got}}, Limits: scan.Limits{MaxExpandedBytes: 40 << 20}})
	tg := sc.ScanReaderAt(context.Background(), "s", strings.NewReader("x"), 1)
	limited := errors.Is(got, scan.ErrLimit)
	for _, f := range tg.Findings {
		limited = limited || f.RuleID == scan.RuleLimit
	}
	if !limited {
		t.Errorf("spooling 64 MiB under a 40 MiB budget: %v, findings %+v", got, tg.Findings)
	}
}

type spooler struct{ err *error }

func (spooler) Name() string                       { return "spooler" }
func (spooler) Match(head []byte, size int64) bool { return true }
func (s spooler) Scan(ctx context.Context, sess *scan.Session, r io.ReaderAt, size int64) error {
	_, err := sess.NestedStream(ctx, "stream", io.LimitReader(zeros{}, 64<<20))
	*s.err = err
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// pkg/scan and its formats must not pull in Kubernetes or Sigstore: a
// laptop scan should not carry a cluster client.
func TestDependencyBudget(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/modelverify/modelverify/pkg/scan/all").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/sigstore/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("pkg/scan/all depends on %s", dep)
			}
		}
	}
}

// Every rule id that a format can report has a SARIF description, so that
// code scanning shows more than the id.
func TestEveryRuleHasASARIFDescription(t *testing.T) {
	src, err := os.ReadFile("finding.go")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep := &scan.Report{Tool: scan.Tool{Name: "modelverify"}}
	for _, line := range strings.Split(string(src), "\n") {
		if i := strings.Index(line, `= "MV-`); i >= 0 {
			id := strings.Trim(strings.Fields(line[i+2:])[0], `"`)
			rep.Targets = append(rep.Targets, scan.Target{Path: id, Findings: []scan.Finding{{RuleID: id, Message: "m"}}})
		}
	}
	if len(rep.Targets) < 15 {
		t.Fatalf("found only %d rule ids in finding.go", len(rep.Targets))
	}
	if err := scan.WriteSARIF(&b, rep); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string `json:"id"`
						Desc struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if r.Desc.Text == r.ID {
			t.Errorf("rule %s has no description", r.ID)
		}
	}
}

// A scanner without formats would call a malicious pickle unsupported and
// exit 0: New refuses it.
func TestNewRefusesOptionsItCannotScanWith(t *testing.T) {
	if _, err := scan.New(scan.Options{}); !errors.Is(err, scan.ErrNoFormats) {
		t.Errorf("no formats: %v", err)
	}
	if _, err := scan.New(scan.Options{Formats: []scan.Format{nil}}); err == nil {
		t.Error("a nil format was accepted")
	}
	if _, err := scan.New(scan.Options{Formats: []scan.Format{spooler{new(error)}}, FailOn: scan.FailAt(scan.SeverityNone + 1)}); err == nil {
		t.Error("an out-of-range fail-on was accepted")
	}
	if _, err := scan.New(scan.Options{Formats: []scan.Format{spooler{new(error)}}}); err != nil {
		t.Errorf("valid options: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew without formats did not panic")
		}
	}()
	scan.MustNew(scan.Options{})
}
