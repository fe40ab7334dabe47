package keras

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

const (
	kerasFixtures = "../../../fixtures/formats/keras"
	jsonFixtures  = "../../../fixtures/formats/json"
)

func scanBytes(t *testing.T, name string, b []byte) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{JSON{}}, Workers: 1})
	return sc.ScanReaderAt(context.Background(), name, bytes.NewReader(b), int64(len(b)))
}

// configOf returns config.json from a .keras archive, or the file itself.
func configOf(t *testing.T, path string) []byte {
	t.Helper()
	if !strings.HasSuffix(path, ".keras") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	rc, err := z.Open("config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantVerdict(name string) scan.Verdict {
	return map[string]scan.Verdict{"benign": scan.VerdictClean, "evil": scan.VerdictDangerous, "malformed": scan.VerdictMalformed}[strings.SplitN(name, "_", 2)[0]]
}

func TestKerasConfigs(t *testing.T) {
	var files []string
	for _, pat := range []string{"*.keras", "*.json"} {
		m, _ := filepath.Glob(filepath.Join(kerasFixtures, pat))
		files = append(files, m...)
	}
	if len(files) < 7 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tg := scanBytes(t, name, configOf(t, f))
			if tg.Format != "keras-config" {
				t.Fatalf("format %q", tg.Format)
			}
			if want := wantVerdict(name); tg.Verdict != want {
				t.Fatalf("verdict %s, want %s: %+v %s", tg.Verdict, want, tg.Findings, tg.Error)
			}
			if strings.HasPrefix(name, "benign") && len(tg.Findings) != 0 {
				t.Fatalf("findings %+v", tg.Findings)
			}
		})
	}
}

func TestLambdaSeverities(t *testing.T) {
	tests := []struct {
		name, json string
		rule       string
		sev        scan.Severity
	}{
		{"a Keras 3 lambda is critical", `{"module":"keras.layers","class_name":"Lambda","config":{"function":{"class_name":"__lambda__","config":{"code":"4wEA","defaults":null,"closure":null}}},"registered_name":null}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"a Keras 2 function triple is critical", `{"class_name":"Model","config":{"layers":[{"class_name":"Lambda","config":{"function":["4wEA",null,null],"function_type":"lambda"}}]}}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"a Keras 2 code string is critical", `{"class_name":"Lambda","config":{"function":"4wEAAAAA","function_type":"lambda"}}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"a named function from os is critical", `{"class_name":"Lambda","config":{"function":"system","function_type":"function","module":"os"}}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"a named function is high", `{"class_name":"Lambda","config":{"function":"my_fn","function_type":"function"}}`, scan.RuleKerasLambda, scan.SeverityHigh},
		{"class_name before config does not matter", `{"config":{"function":{"config":{"code":"4wEA"},"class_name":"__lambda__"}},"class_name":"Lambda"}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"a keras_metadata tuple triple is critical", `{"class_name":"Lambda","config":{"function":{"class_name":"__tuple__","items":["4wEAAAAA",null,null]},"function_type":"lambda","module":"__main__"}}`, scan.RuleKerasLambda, scan.SeverityCritical},
		{"turning off safe mode is critical", `{"module":"keras.config","class_name":"function","config":"enable_unsafe_deserialization","registered_name":"function"}`, scan.RuleKerasModule, scan.SeverityCritical},
		{"get_file is critical", `{"module":"keras.src.utils.file_utils","class_name":"function","config":"get_file"}`, scan.RuleKerasModule, scan.SeverityCritical},
		{"TFSMLayer is high", `{"module":"keras.layers","class_name":"TFSMLayer","config":{"filepath":"/tmp/x"}}`, scan.RuleKerasModule, scan.SeverityHigh},
		{"a module outside Keras is high", `{"module":"mypkg.layers","class_name":"X","config":{}}`, scan.RuleKerasModule, scan.SeverityHigh},
		{"a keras-looking prefix is not Keras", `{"module":"kerasx.layers","class_name":"X","config":{}}`, scan.RuleKerasModule, scan.SeverityHigh},
		{"subprocess is critical", `{"class_name":"Dense","config":{"activation":{"module":"subprocess","class_name":"function","config":"getoutput"}}}`, scan.RuleKerasModule, scan.SeverityCritical},
		{"a custom registered name is high", `{"module":"keras.layers","class_name":"Dense","config":{},"registered_name":"MyPkg>Dense"}`, scan.RuleKerasModule, scan.SeverityHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := scanBytes(t, "c.json", []byte(tt.json))
			for _, f := range tg.Findings {
				if f.RuleID == tt.rule && f.Severity == tt.sev {
					return
				}
			}
			t.Fatalf("findings %+v, want %s %s", tg.Findings, tt.rule, tt.sev)
		})
	}
}

func TestJSONFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(jsonFixtures, "*.json"))
	if len(files) < 5 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tg := scanBytes(t, name, b)
			if want := wantVerdict(name); tg.Verdict != want {
				t.Fatalf("verdict %s, want %s: %+v %s", tg.Verdict, want, tg.Findings, tg.Error)
			}
			if strings.HasPrefix(name, "evil") {
				for _, fd := range tg.Findings {
					if fd.RuleID == scan.RuleTemplateInjection && fd.Severity == scan.SeverityCritical {
						return
					}
				}
				t.Fatalf("no critical template finding: %+v", tg.Findings)
			}
		})
	}
}

func TestOtherJSONIsClean(t *testing.T) {
	for _, doc := range []string{
		`{"module": "torch.nn", "target_modules": ["q_proj"], "registered_name": "a>b"}`,
		`{"architectures": ["LlamaForCausalLM"], "auto_map": {"AutoConfig": "x.Y"}}`,
	} {
		tg := scanBytes(t, "x.json", []byte(doc))
		if tg.Verdict != scan.VerdictClean || len(tg.Findings) != 0 || tg.Format != "json" {
			t.Errorf("%s: %+v", doc, tg)
		}
	}
}

func TestMatch(t *testing.T) {
	for head, want := range map[string]bool{
		`{"module": "keras"}`: true, " \n{\n  \"a\": 1}": true, "{}": true, "\xef\xbb\xbf{\"a\":1}": true,
		"{{ bos_token }}": false, "{% for %}": false, "[1, 2]": false, "\x80\x04": false,
	} {
		if got := (JSON{}).Match([]byte(head), int64(len(head))); got != want {
			t.Errorf("Match(%q) = %v", head, got)
		}
	}
}

func TestNestingLimit(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)
	tg := scanBytes(t, "deep.json", []byte(deep))
	if tg.Verdict != scan.VerdictMalformed || !strings.Contains(tg.Error, "max-nesting") {
		t.Fatalf("%+v", tg)
	}
}

func FuzzJSON(f *testing.F) {
	for _, dir := range []string{kerasFixtures, jsonFixtures} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{JSON{}}, Workers: 1, Limits: scan.Limits{MaxNesting: 64}})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(b), int64(len(b)))
	})
}
