package serving_test

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

func fixture(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "fixtures", "code", rel)
}

func rules(tg scan.Target) []string {
	var out []string
	for _, f := range tg.Findings {
		out = append(out, f.Severity.String()+" "+f.RuleID+" "+f.Member+" "+f.Symbol)
	}
	sort.Strings(out)
	return out
}

func has(got []string, want string) bool {
	for _, g := range got {
		if g == want {
			return true
		}
	}
	return false
}

func TestServingFormatsNameTheirCode(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	cases := []struct {
		file string
		want []string
	}{
		{"mlflow-pyfunc/MLmodel", []string{
			"high MV-REMOTE-CODE  code",
			"high MV-REMOTE-CODE  python_model.pkl",
		}},
		// The real cloudpickle output that MLflow writes is judged as a pickle.
		{"mlflow-pyfunc/python_model.pkl", []string{
			"critical MV-PICKLE-DANGEROUS-GLOBAL  cloudpickle.cloudpickle._make_skeleton_class",
		}},
		{"mlflow-pyfunc/code/helpers.py", []string{
			"critical MV-PYTHON-DANGEROUS  subprocess.run",
			"high MV-PYTHON-CODE  ",
		}},
		{"torchserve.mar", []string{
			"high MV-REMOTE-CODE MAR-INF/MANIFEST.json handler.py",
			"high MV-REMOTE-CODE MAR-INF/MANIFEST.json model.py",
			"critical MV-PYTHON-DANGEROUS handler.py os.system",
			"high MV-PYTHON-CODE model.py ",
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), fixture(c.file), c.file)
			got := rules(tg)
			for _, w := range c.want {
				if !has(got, w) {
					t.Errorf("missing %q in\n%s", w, strings.Join(got, "\n"))
				}
			}
			if tg.Verdict != scan.VerdictDangerous {
				t.Errorf("verdict %s", tg.Verdict)
			}
		})
	}
}

func scanText(s string) scan.Target {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	return sc.ScanReaderAt(context.Background(), "MLmodel", strings.NewReader(s), int64(len(s)))
}

func TestMLmodel(t *testing.T) {
	t.Run("a library flavor only is clean", func(t *testing.T) {
		tg := scanText("artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n")
		if tg.Verdict != scan.VerdictClean || tg.Format != "mlflow-mlmodel" {
			t.Fatalf("%s %s %v", tg.Format, tg.Verdict, rules(tg))
		}
	})
	t.Run("a loader module outside MLflow is code", func(t *testing.T) {
		tg := scanText("flavors:\n  python_function:\n    loader_module: my_loader\n    data: data\n")
		if got := rules(tg); len(got) != 1 || got[0] != "high MV-REMOTE-CODE  my_loader" {
			t.Fatalf("%v", got)
		}
	})
	t.Run("broken YAML is malformed", func(t *testing.T) {
		tg := scanText("flavors:\n  python_function: [\n")
		if tg.Verdict != scan.VerdictMalformed {
			t.Fatalf("%s %v", tg.Verdict, rules(tg))
		}
	})
}

func TestManifestNamingABuiltinHandlerIsClean(t *testing.T) {
	doc := []byte(`{"runtime": "python", "model": {"modelName": "r", "serializedFile": "m.pt", "handler": "image_classifier"}, "archiverVersion": "0.9.0"}`)
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "MANIFEST.json", bytes.NewReader(doc), int64(len(doc)))
	if tg.Verdict != scan.VerdictClean {
		t.Fatalf("%s %v", tg.Verdict, rules(tg))
	}
}

func FuzzMLmodel(f *testing.F) {
	f.Add([]byte("flavors:\n  python_function:\n    loader_module: x\n    code: code\n    python_model: p.pkl\n"))
	f.Add([]byte("flavors: &a [*a]\n"))
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc.ScanReaderAt(context.Background(), "MLmodel", bytes.NewReader(b), int64(len(b)))
	})
}
