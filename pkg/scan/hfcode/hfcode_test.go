package hfcode_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/hfcode"
)

func fixtureDir(t testing.TB, name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "fixtures", "code", name)
}

func scanFile(t testing.TB, dir, name string) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	return sc.ScanFile(context.Background(), filepath.Join(dir, name), name)
}

// refs lists the remote-code findings as "symbol: message".
func refs(tg scan.Target) []string {
	var out []string
	for _, f := range tg.Findings {
		if f.RuleID == scan.RuleRemoteCode {
			if f.Severity != scan.SeverityHigh {
				panic("remote-code finding is not high")
			}
			out = append(out, f.Symbol+": "+f.Message)
		}
	}
	sort.Strings(out)
	return out
}

func TestConfigsThatImportCodeNameTheKeyAndTheFile(t *testing.T) {
	cases := []struct {
		dir, file string
		want      []string // substrings, one per finding, in sorted order of the findings
	}{
		{"hf-remote-code", "config.json", []string{
			"configuration_x.py: auto_map.AutoConfig names \"configuration_x.XConfig\": configuration_x.py runs when",
			"modeling_shared.py: auto_map.AutoModel names \"other-org/shared-code--modeling_shared.SharedModel\": modeling_shared.py comes from the repository other-org/shared-code",
			"modeling_x.py: auto_map.AutoModelForCausalLM names \"modeling_x.XForCausalLM\": modeling_x.py runs when",
			"pipeline_x.py: custom_pipelines.text-classification.impl names \"pipeline_x.XPipeline\": pipeline_x.py runs",
		}},
		{"hf-remote-code", "tokenizer_config.json", []string{
			"tokenization_x.py: auto_map.AutoTokenizer[0] names \"tokenization_x.XTokenizer\": tokenization_x.py is not in the folder",
		}},
		{"diffusers-custom", "model_index.json", []string{
			"my_vae.py: vae names \"my_vae.MyVAE\": vae/my_vae.py or my_vae.py is not in the folder",
			"pipeline_mine.py: _class_name names \"pipeline_mine.MyPipeline\": pipeline_mine.py runs",
			"scheduler/scheduling_mine.py: scheduler names \"scheduling_mine.MyScheduler\": scheduler/scheduling_mine.py runs",
		}},
		{"diffusers-custom", "unet/config.json", nil},
		{"st-custom", "modules.json", []string{
			"1_Custom/custom_pooling.py: modules.json[1].type names \"custom_pooling.MyPooling\": 1_Custom/custom_pooling.py runs",
		}},
		{"hf-plain", "config.json", nil},
		{"hf-plain", "modules.json", nil},
	}
	for _, c := range cases {
		t.Run(c.dir+"/"+c.file, func(t *testing.T) {
			tg := scanFile(t, fixtureDir(t, c.dir), c.file)
			got := refs(tg)
			if len(got) != len(c.want) {
				t.Fatalf("findings:\n%s\nwant %d", strings.Join(got, "\n"), len(c.want))
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("finding %d:\n%s\nwant it to contain\n%s", i, got[i], c.want[i])
				}
			}
			wantVerdict := scan.VerdictClean
			if len(c.want) > 0 {
				wantVerdict = scan.VerdictDangerous
			}
			if tg.Verdict != wantVerdict {
				t.Fatalf("verdict %s, want %s (%+v)", tg.Verdict, wantVerdict, tg.Findings)
			}
		})
	}
}

func TestTokenizerConfigChatTemplateIsStillJudged(t *testing.T) {
	dir := t.TempDir()
	doc := `{"auto_map": {"AutoTokenizer": [null, "tok.Fast"]}, "chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := scanFile(t, dir, "tokenizer_config.json")
	var tmpl bool
	for _, f := range tg.Findings {
		tmpl = tmpl || f.RuleID == scan.RuleTemplateInjection
	}
	if got := refs(tg); len(got) != 1 || !strings.Contains(got[0], "auto_map.AutoTokenizer[1]") || !tmpl {
		t.Fatalf("findings %+v", tg.Findings)
	}
}

func TestReferencesThatNameNoModuleAreReported(t *testing.T) {
	for _, doc := range []string{
		`{"auto_map": {"AutoModel": "../../etc/evil.Model"}}`,
		`{"auto_map": {"AutoModel": "/abs.Model"}}`,
		`{"auto_map": {"AutoModel": ".Model"}}`,
	} {
		t.Run(doc, func(t *testing.T) {
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			tg := sc.ScanReaderAt(context.Background(), "config.json", strings.NewReader(doc), int64(len(doc)))
			got := refs(tg)
			if len(got) != 1 || !strings.Contains(got[0], "is not a Python module name") {
				t.Fatalf("findings %v", got)
			}
		})
	}
}

func TestInsideArchivesReferencesAreJudgedByText(t *testing.T) {
	doc := []byte(`{"auto_map": {"AutoModel": "modeling_x.X"}}`)
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "config.json", bytes.NewReader(doc), int64(len(doc)))
	if got := refs(tg); len(got) != 1 || !strings.Contains(got[0], "modeling_x.py runs when") {
		t.Fatalf("findings %v", got)
	}
}

func TestModulesMatch(t *testing.T) {
	for head, want := range map[string]bool{
		`[{"type": "x.Y"}]`:  true,
		` [ {"idx":0,"type"`: true,
		`[1, 2, 3]`:          false,
		`{"type": "a"}`:      false,
	} {
		if got := (hfcode.Modules{}).Match([]byte(head), int64(len(head))); got != want {
			t.Errorf("Match(%q) = %v", head, got)
		}
	}
}

func FuzzConfig(f *testing.F) {
	for _, p := range []string{"hf-remote-code/config.json", "hf-remote-code/tokenizer_config.json", "diffusers-custom/model_index.json", "st-custom/modules.json"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir(f, ""), p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc.ScanReaderAt(context.Background(), "c.json", bytes.NewReader(b), int64(len(b)))
	})
}

func TestPolicyAllowsReviewedCodeByPathAndDigest(t *testing.T) {
	dir := t.TempDir()
	model := "import torch\n\nclass X(torch.nn.Module):\n    pass\n"
	evil := "import os\nos.system('id')\n"
	files := map[string]string{
		"config.json":   `{"auto_map": {"AutoModel": "modeling_x.X", "AutoConfig": "evil.C"}}`,
		"modeling_x.py": model,
		"evil.py":       evil,
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	doc := "apiVersion: modelverify.dev/v1alpha1\nkind: ScanPolicy\nallowCode:\n" +
		"  - {path: modeling_x.py, digest: \"" + digest(model) + "\"}\n" +
		"  - {path: evil.py, digest: \"" + digest(evil) + "\"}\n"
	pol, err := scan.ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Policy: pol})
	targets, err := sc.ScanPaths(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	sev := map[string]scan.Severity{}
	verdicts := map[string]scan.Verdict{}
	for _, tg := range targets {
		verdicts[filepath.Base(tg.Path)] = tg.Verdict
		for _, f := range tg.Findings {
			k := filepath.Base(tg.Path) + " " + f.RuleID + " " + f.Symbol
			if f.Severity > sev[k] || sev[k] == 0 {
				sev[k] = f.Severity
			}
		}
	}
	want := map[string]scan.Severity{
		"config.json MV-REMOTE-CODE modeling_x.py": scan.SeverityInfo,
		"config.json MV-REMOTE-CODE evil.py":       scan.SeverityInfo,
		"modeling_x.py MV-PYTHON-CODE ":            scan.SeverityInfo,
		"evil.py MV-PYTHON-CODE ":                  scan.SeverityInfo,
		"evil.py MV-PYTHON-DANGEROUS os.system":    scan.SeverityCritical, // a policy cannot make os.system clean
	}
	for k, w := range want {
		if sev[k] != w {
			t.Errorf("%s: %s, want %s (all: %v)", k, sev[k], w, sev)
		}
	}
	if verdicts["modeling_x.py"] != scan.VerdictClean || verdicts["config.json"] != scan.VerdictClean || verdicts["evil.py"] != scan.VerdictDangerous {
		t.Errorf("verdicts %v", verdicts)
	}

	// Another content under the reviewed name is not allowed.
	if err := os.WriteFile(filepath.Join(dir, "modeling_x.py"), []byte(model+"x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := sc.ScanFile(context.Background(), filepath.Join(dir, "modeling_x.py"), filepath.Join(dir, "modeling_x.py"))
	if tg.Verdict != scan.VerdictDangerous {
		t.Errorf("changed file: %s %+v", tg.Verdict, tg.Findings)
	}
	tg = sc.ScanFile(context.Background(), filepath.Join(dir, "config.json"), filepath.Join(dir, "config.json"))
	if tg.Verdict != scan.VerdictDangerous {
		t.Errorf("config referencing the changed file: %s %+v", tg.Verdict, tg.Findings)
	}
}

func TestPolicyRejectsBadAllowCodeEntries(t *testing.T) {
	for _, e := range []string{
		"{path: x.py, digest: sha256:abc}",
		"{path: '', digest: sha256:" + strings.Repeat("a", 64) + "}",
		"{path: /etc/x.py, digest: sha256:" + strings.Repeat("a", 64) + "}",
		"{path: x.py, digest: md5:" + strings.Repeat("a", 64) + "}",
		"{path: x.py, digest: sha256:" + strings.Repeat("A", 64) + "}",
	} {
		if _, err := scan.ParsePolicy([]byte("kind: ScanPolicy\nallowCode: [" + e + "]\n")); err == nil {
			t.Errorf("%s accepted", e)
		}
	}
}
