package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "fixtures"}, parts...)...)
}

func TestScanExitCodes(t *testing.T) {
	truncated := filepath.Join(t.TempDir(), "truncated.pkl")
	if err := os.WriteFile(truncated, []byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	mal := fixture("pickle", "malicious", "os_system_v4.pkl")
	ben := fixture("pickle", "benign", "plain_v4.pkl")
	// A low finding: bytes after a numpy array's data.
	plain, err := os.ReadFile(fixture("containers", "benign", "plain.npy"))
	if err != nil {
		t.Fatal(err)
	}
	trailing := filepath.Join(t.TempDir(), "trailing.npy")
	if err := os.WriteFile(trailing, append(plain, "extra"...), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"a clean pickle exits 0", []string{"scan", ben}, 0},
		{"a malicious pickle exits 1", []string{"scan", mal}, 1},
		{"dangerous and clean together exit 1", []string{"scan", ben, mal}, 1},
		{"a truncated pickle exits 2", []string{"scan", truncated}, 2},
		{"dangerous wins over malformed", []string{"scan", truncated, mal}, 1},
		{"--fail-on none never fails on findings", []string{"scan", "--fail-on", "none", mal}, 0},
		{"--fail-on critical still fails on a critical finding", []string{"scan", "--fail-on", "critical", mal}, 1},
		{"a low finding passes the default fail-on", []string{"scan", trailing}, 0},
		{"--fail-on low fails on a low finding", []string{"scan", "--fail-on", "low", trailing}, 1},
		{"--fail-on info fails on a low finding", []string{"scan", "--fail-on", "info", trailing}, 1},
		{"--fail-on info passes a clean file", []string{"scan", "--fail-on", "info", ben}, 0},
		{"a NeMo archive with clean weights exits 0", []string{"scan", fixture("formats", "nemo", "benign_asr.nemo")}, 0},
		{"a NeMo archive whose weights call posix.system exits 1", []string{"scan", fixture("formats", "nemo", "evil_weights.nemo")}, 1},
		{"a paddle.save state dict exits 0", []string{"scan", fixture("formats", "paddle", "benign_layer_p4.pdparams")}, 0},
		{"a .pdparams pickle that calls posix.system exits 1", []string{"scan", fixture("formats", "paddle", "evil_system_p4.pdparams")}, 1},
		{"a missing file exits 2", []string{"scan", filepath.Join(t.TempDir(), "nope")}, 2},
		{"an unknown flag exits 3", []string{"scan", "--bogus", ben}, 3},
		{"no target exits 3", []string{"scan"}, 3},
		{"a bad --fail-on exits 3", []string{"scan", "--fail-on", "severe", ben}, 3},
		{"a bad --format exits 3", []string{"scan", "--format", "xml", ben}, 3},
		{"a missing policy exits 3", []string{"scan", "--policy", "/nonexistent.yaml", ben}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
		})
	}
}

func TestScanTextNamesEveryDangerousFinding(t *testing.T) {
	out, _, code := runCLI(t, "scan", fixture("pickle", "malicious", "os_system_v4.pkl"), fixture("pickle", "benign", "plain_v2.pkl"))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "CRITICAL") || !strings.Contains(lines[0], "posix.system") ||
		!strings.HasPrefix(lines[1], "2 scanned: 1 dangerous, 0 malformed, 1 clean") ||
		lines[2] != "findings: 1 critical, 0 not on the allowlist, 0 other" {
		t.Errorf("text output:\n%s", out)
	}
}

// The JSON report is compared with a golden file after decoding, with the
// volatile fields (tool version) cleared. Run with -update to rewrite it.
func TestScanJSONReportGolden(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"os_system_v0.pkl", "attr_chain_shutil_os_system.pkl", "ext_registry.pkl"} {
		b, err := os.ReadFile(fixture("pickle", "malicious", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("# not a model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCLI(t, "scan", "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	rep["tool"].(map[string]any)["version"] = ""
	for _, tg := range rep["targets"].([]any) {
		m := tg.(map[string]any)
		m["path"] = filepath.Base(m["path"].(string))
	}
	got, _ := json.MarshalIndent(rep, "", "  ")
	golden := filepath.Join("testdata", "scan-report.golden.json")
	if *updateGolden {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBytes, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	var want, have any
	json.Unmarshal(wantBytes, &want)
	json.Unmarshal(got, &have)
	wb, _ := json.Marshal(want)
	hb, _ := json.Marshal(have)
	if string(wb) != string(hb) {
		t.Errorf("report differs from %s (run with -update after checking):\n%s", golden, got)
	}
}

func TestScanSARIFIsValid21(t *testing.T) {
	out, _, code := runCLI(t, "scan", "--format", "sarif", fixture("pickle", "malicious", "os_system_v4.pkl"))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID         string `json:"id"`
						Properties struct {
							SecuritySeverity string `json:"security-severity"`
						} `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "modelverify" {
		t.Fatalf("bad SARIF envelope: %s", out)
	}
	r := log.Runs[0]
	if len(r.Results) == 0 || r.Results[0].Level != "error" || !strings.HasSuffix(r.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI, "os_system_v4.pkl") {
		t.Errorf("bad results: %+v", r.Results)
	}
	rules := map[string]bool{}
	for _, rule := range r.Tool.Driver.Rules {
		if rule.Properties.SecuritySeverity == "" {
			t.Errorf("rule %s has no security-severity", rule.ID)
		}
		rules[rule.ID] = true
	}
	for _, res := range r.Results {
		if !rules[res.RuleID] {
			t.Errorf("result rule %s is not declared in the driver's rules", res.RuleID)
		}
	}
}

// One scan writes SARIF and, with --html, the HTML page from the same report.
func TestScanWritesHTMLBesideSARIF(t *testing.T) {
	dir := t.TempDir()
	sarif, page := filepath.Join(dir, "scan.sarif"), filepath.Join(dir, "report.html")
	mal := fixture("pickle", "malicious", "os_system_v4.pkl")
	_, errOut, code := runCLI(t, "scan", "--format", "sarif", "-o", sarif, "--html", page, mal)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var log map[string]any
	if b, err := os.ReadFile(sarif); err != nil || json.Unmarshal(b, &log) != nil {
		t.Fatalf("SARIF not written: %v", err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<!DOCTYPE html>", "Content-Security-Policy", "posix.system", "CRITICAL", "MV-PICKLE-DANGEROUS-GLOBAL", "os_system_v4.pkl"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("HTML report lacks %q", s)
		}
	}
	out, _, code := runCLI(t, "scan", "--format", "html", fixture("pickle", "benign", "plain_v4.pkl"))
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "plain_v4.pkl") {
		t.Errorf("--format html: exit %d, output starts %.80q", code, out)
	}
}
