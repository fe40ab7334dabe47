package scan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/modelverify/modelverify/pkg/scan"
)

var update = flag.Bool("update", false, "rewrite generated docs")

// sarifSchema compiles the OASIS SARIF 2.1.0 JSON schema. The schema text
// comes from the go-sarif module in the module cache (a verbatim copy of
// the OASIS file, errata 01), so no copy of it lives in this repository.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	if err != nil {
		t.Fatalf("locate go-sarif: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, text, ok := strings.Cut(string(src), "const schema = `")
	if !ok {
		t.Fatal("no schema constant in go-sarif")
	}
	text, _, _ = strings.Cut(text, "`")
	if !strings.Contains(text, "sarif-schema-2.1.0.json") {
		t.Fatal("go-sarif's schema is not SARIF 2.1.0")
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validSARIF(t *testing.T, sch *jsonschema.Schema, out []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("not valid SARIF 2.1.0: %v\n%s", err, out)
	}
	// go-sarif's own Validate checks its re-encoding, which adds empty
	// fields the schema refuses, so only its reading is checked here.
	if _, err := gosarif.FromBytes(out); err != nil {
		t.Fatalf("go-sarif cannot read it: %v", err)
	}
}

type sarifOut struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Version, SemanticVersion, InformationURI string
				Rules                                    []struct {
					ID, Name, HelpURI string
					FullDescription   struct{ Text string }
					Help              struct{ Text, Markdown string }
				}
			}
		}
		Invocations []struct {
			ExecutionSuccessful bool
			ExitCode            int
		}
		Artifacts []struct {
			Location    struct{ URI, URIBaseID string }
			ParentIndex *int
		}
		Results []struct {
			RuleID    string
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI, URIBaseID string }
					Region           map[string]any
				}
				LogicalLocations []struct{ Name string }
			}
			PartialFingerprints map[string]string
		}
	}
}

func sampleReport(paths ...string) *scan.Report {
	var ts []scan.Target
	for _, p := range paths {
		ts = append(ts, scan.Target{Path: p, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 10, Format: "pytorch-zip", Verdict: scan.VerdictDangerous,
			Findings: []scan.Finding{
				{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical, Member: "archive/data.pkl", Offset: 57, Opcode: "STACK_GLOBAL", Symbol: "posix.system", Message: "calls posix.system"},
				{RuleID: scan.RuleUnknownGlobal, Severity: scan.SeverityHigh, Offset: 3, Symbol: "foo.Bar", Message: "imports foo.Bar"},
			}})
	}
	return scan.NewReport(scan.Tool{Name: "modelverify", Version: "v1.2.3"}, ts)
}

func TestSARIFIsValidAndStable(t *testing.T) {
	sch := sarifSchema(t)
	base := t.TempDir()
	write := func(r *scan.Report, opts scan.SARIFOptions) (sarifOut, []byte) {
		var buf bytes.Buffer
		if err := scan.WriteSARIFWith(&buf, r, opts); err != nil {
			t.Fatal(err)
		}
		validSARIF(t, sch, buf.Bytes())
		var s sarifOut
		if err := json.Unmarshal(buf.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s, buf.Bytes()
	}
	abs := filepath.Join(base, "models", "evil model.pt")
	a, raw := write(sampleReport(abs, "oci://localhost:5000/models/bert:v1/model.pt"), scan.SARIFOptions{Base: base, ExitCode: 1})
	run := a.Runs[0]
	if run.Tool.Driver.SemanticVersion != "1.2.3" || run.Tool.Driver.InformationURI == "" {
		t.Errorf("driver %+v", run.Tool.Driver)
	}
	if len(run.Invocations) != 1 || run.Invocations[0].ExitCode != 1 || !run.Invocations[0].ExecutionSuccessful {
		t.Errorf("invocations %+v", run.Invocations)
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.Name == "" || r.FullDescription.Text == "" || r.Help.Text == "" || r.Help.Markdown == "" || !strings.HasPrefix(r.HelpURI, scan.RulesDocURI+"#") {
			t.Errorf("rule %+v", r)
		}
	}
	for _, bad := range []string{base, "../", "oci://", "startLine"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("SARIF contains %q:\n%s", bad, raw)
		}
	}
	uris := map[string]string{}
	for _, res := range run.Results {
		l := res.Locations[0].PhysicalLocation.ArtifactLocation
		uris[l.URI] = l.URIBaseID
		if res.PartialFingerprints["modelverifyFinding/v1"] == "" {
			t.Errorf("result without fingerprint: %+v", res)
		}
		if res.RuleID == scan.RuleDangerousGlobal && (len(res.Locations[0].LogicalLocations) != 1 || res.Locations[0].PhysicalLocation.Region != nil) {
			t.Errorf("member finding: %+v", res.Locations[0])
		}
	}
	if uris["models/evil%20model.pt"] != scan.SARIFBaseSource || uris["localhost%3A5000/models/bert/model.pt"] != scan.SARIFBaseOCI {
		t.Errorf("artifact URIs %v", uris)
	}
	nested := 0
	for _, art := range run.Artifacts {
		if art.ParentIndex != nil {
			nested++
		}
	}
	if nested != 2 {
		t.Errorf("%d nested artifacts, want one member per target", nested)
	}

	// The same files named another way, from another folder, on another
	// machine (another base), give the same fingerprints.
	other := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(filepath.Join(base))
	b, _ := write(sampleReport("./models/../models/evil model.pt", "oci://localhost:5000/models/bert@sha256:"+strings.Repeat("cd", 32)+"/model.pt"), scan.SARIFOptions{Base: base, ExitCode: 1})
	os.Chdir(other)
	c, _ := write(sampleReport(filepath.Join(other, "models", "evil model.pt"), "oci://localhost:5000/models/bert:v2/model.pt"), scan.SARIFOptions{Base: other, ExitCode: 1})
	for i := range a.Runs[0].Results {
		fa, fb, fc := a.Runs[0].Results[i].PartialFingerprints, b.Runs[0].Results[i].PartialFingerprints, c.Runs[0].Results[i].PartialFingerprints
		if fa["modelverifyFinding/v1"] != fb["modelverifyFinding/v1"] || fa["modelverifyFinding/v1"] != fc["modelverifyFinding/v1"] {
			t.Errorf("result %d fingerprints differ: %v %v %v", i, fa, fb, fc)
		}
	}

	// A file outside the base is neither absolute nor "../".
	d, raw := write(sampleReport("/elsewhere/x.pkl"), scan.SARIFOptions{Base: base, ExitCode: 2})
	if got := d.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation; got.URI != "elsewhere/x.pkl" || got.URIBaseID != scan.SARIFBaseOutside {
		t.Errorf("outside file: %+v", got)
	}
	if d.Runs[0].Invocations[0].ExecutionSuccessful {
		t.Errorf("exit 2 marked successful:\n%s", raw)
	}
}

func TestSARIFWithoutFindingsIsValid(t *testing.T) {
	var buf bytes.Buffer
	if err := scan.WriteSARIF(&buf, scan.NewReport(scan.Tool{Name: "modelverify", Version: "dev"}, nil)); err != nil {
		t.Fatal(err)
	}
	sch := sarifSchema(t)
	validSARIF(t, sch, buf.Bytes())
	// The schema refuses what GitHub would: a result without a message.
	bad := strings.Replace(buf.String(), `"results": []`, `"results": [{"ruleId": "X"}]`, 1)
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if sch.Validate(inst) == nil {
		t.Errorf("a result without a message passed the schema:\n%s", bad)
	}
}

func TestRulesDoc(t *testing.T) {
	p := filepath.Join("..", "..", "docs", "rules.md")
	want := scan.RulesMarkdown()
	if *update {
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/rules.md is out of date: go test ./pkg/scan -run TestRulesDoc -update")
	}
}

// A finding in Python source is placed on its line; one in binary content
// on its byte, offset 0 included.
func TestSARIFRegions(t *testing.T) {
	rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "v1.2.3"}, []scan.Target{
		{Path: "pipeline.py", Format: "python", Verdict: scan.VerdictDangerous, Findings: []scan.Finding{
			{RuleID: scan.RulePythonDangerous, Severity: scan.SeverityCritical, Offset: -1, Line: 7, Symbol: "os.system", Message: "line 7: os.system"},
		}},
		{Path: "model.pkl", Format: "pickle", Verdict: scan.VerdictDangerous, Findings: []scan.Finding{
			{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical, Offset: 0, Symbol: "posix.system", Message: "calls posix.system"},
		}},
	})
	var buf bytes.Buffer
	if err := scan.WriteSARIFWith(&buf, rep, scan.SARIFOptions{Base: ".", ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	validSARIF(t, sarifSchema(t), buf.Bytes())
	var out struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           map[string]int64
					}
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	for _, r := range out.Runs[0].Results {
		l := r.Locations[0].PhysicalLocation
		got[l.ArtifactLocation.URI] = l.Region
	}
	if r := got["pipeline.py"]; len(r) != 1 || r["startLine"] != 7 {
		t.Errorf("python region %v, want startLine 7 alone", r)
	}
	if r, ok := got["model.pkl"]["byteOffset"]; !ok || r != 0 || got["model.pkl"]["byteLength"] != 1 || len(got["model.pkl"]) != 2 {
		t.Errorf("pickle region %v, want byteOffset 0 and byteLength 1", got["model.pkl"])
	}
}
