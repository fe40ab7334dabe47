package scan_test

import (
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

func TestTextSaysWhatToDo(t *testing.T) {
	rep := scan.NewReport(scan.Tool{Name: "modelverify"}, []scan.Target{
		{Path: "a.pkl", Verdict: scan.VerdictDangerous, Findings: []scan.Finding{
			{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical, Offset: 2, Symbol: "posix.system", Message: `imports posix.system; called as posix.system("id")`},
			{RuleID: scan.RuleUnknownGlobal, Severity: scan.SeverityHigh, Offset: 9, Symbol: "mylib.Layer", Message: "imports mylib.Layer"},
		}},
		{Path: "README.md", Verdict: scan.VerdictUnsupported, Format: "unknown"},
		{Path: "notes.txt", Verdict: scan.VerdictUnsupported, Format: "unknown"},
		{Path: "ok.safetensors", Verdict: scan.VerdictClean},
	})
	var b strings.Builder
	if err := scan.WriteText(&b, rep, scan.SeverityMedium); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`called as posix.system("id")`,
		"mylib.Layer; if it is safe, allow it with --policy FILE (a ScanPolicy",
		"findings: 1 critical, 1 not on the allowlist, 0 other",
		"not read as a model (no format recognised, nothing in it runs on load): README.md, notes.txt",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
