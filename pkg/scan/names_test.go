package scan_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

// writeFiles writes name -> content under a new temporary folder and returns
// it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// verdicts scans dir and returns each file's verdict by its path relative
// to dir, and the report.
func verdicts(t *testing.T, dir string) (map[string]scan.Verdict, *scan.Report) {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	ts, err := sc.ScanPaths(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	rep := scan.NewReport(scan.Tool{Name: "modelverify"}, ts)
	out := map[string]scan.Verdict{}
	for _, tg := range rep.Targets {
		rel, _ := filepath.Rel(dir, tg.Path)
		out[filepath.ToSlash(rel)] = tg.Verdict
	}
	return out, rep
}

func TestFilesNamedLikeModelsThatNoFormatReadsAreMalformed(t *testing.T) {
	const text = "# some notes, not a model\n"
	cases := []struct {
		name  string
		files map[string]string
		want  map[string]scan.Verdict
	}{
		{"every model extension", map[string]string{
			"a.safetensors": text, "a.pt": text, "a.pth": text, "a.ckpt": text, "a.pkl": text, "a.pickle": text,
			"a.joblib": text, "a.npy": text, "a.npz": text, "a.onnx": text, "a.gguf": text, "a.h5": text,
			"a.hdf5": text, "a.keras": text, "a.pb": text, "A.PT": text,
		}, map[string]scan.Verdict{
			"a.safetensors": scan.VerdictMalformed, "a.pt": scan.VerdictMalformed, "a.pth": scan.VerdictMalformed,
			"a.ckpt": scan.VerdictMalformed, "a.pkl": scan.VerdictMalformed, "a.pickle": scan.VerdictMalformed,
			"a.joblib": scan.VerdictMalformed, "a.npy": scan.VerdictMalformed, "a.npz": scan.VerdictMalformed,
			"a.onnx": scan.VerdictMalformed, "a.gguf": scan.VerdictMalformed, "a.h5": scan.VerdictMalformed,
			"a.hdf5": scan.VerdictMalformed, "a.keras": scan.VerdictMalformed, "a.pb": scan.VerdictMalformed,
			"A.PT": scan.VerdictMalformed,
		}},
		{"an empty checkpoint is malformed", map[string]string{"model.safetensors": ""},
			map[string]scan.Verdict{"model.safetensors": scan.VerdictMalformed}},
		{"other names stay unsupported", map[string]string{"notes.txt": text, "README": text, "weights.dat": text},
			map[string]scan.Verdict{"notes.txt": scan.VerdictUnsupported, "README": scan.VerdictUnsupported, "weights.dat": scan.VerdictUnsupported}},
		{"a .bin alone is malformed", map[string]string{"pytorch_model.bin": text},
			map[string]scan.Verdict{"pytorch_model.bin": scan.VerdictMalformed}},
		{"a .bin next to a config only is malformed", map[string]string{"pytorch_model.bin": text, "config.json": `{"model_type":"bert"}`},
			map[string]scan.Verdict{"pytorch_model.bin": scan.VerdictMalformed, "config.json": scan.VerdictClean}},
		{"a .bin next to an OpenVINO .xml of its stem is raw data", map[string]string{"model.bin": text, "model.xml": "<net/>"},
			map[string]scan.Verdict{"model.bin": scan.VerdictUnsupported, "model.xml": scan.VerdictUnsupported}},
		{"a .bin next to a TensorFlow.js model.json is raw data", map[string]string{"group1-shard1of1.bin": text, "model.json": `{"format":"layers-model"}`},
			map[string]scan.Verdict{"group1-shard1of1.bin": scan.VerdictUnsupported, "model.json": scan.VerdictClean}},
		{"a .bin in another folder than the .xml is malformed", map[string]string{"w/model.bin": text, "model.xml": "<net/>"},
			map[string]scan.Verdict{"w/model.bin": scan.VerdictMalformed, "model.xml": scan.VerdictUnsupported}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, rep := verdicts(t, writeFiles(t, c.files))
			for name, want := range c.want {
				if got[name] != want {
					t.Errorf("%s: verdict %s, want %s", name, got[name], want)
				}
			}
			for _, tg := range rep.Targets {
				if tg.Verdict == scan.VerdictMalformed && !strings.Contains(tg.Error, "named like a model") {
					t.Errorf("%s: error %q does not say the name is a model's", tg.Path, tg.Error)
				}
			}
		})
	}
}

// ONNX external data is raw bytes in a .bin file: next to its model it is
// not malformed, alone it is.
func TestONNXExternalDataIsRawDataNextToItsModel(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "formats", "onnx", "benign_external")
	got, _ := verdicts(t, dir)
	if got["weights.bin"] != scan.VerdictUnsupported || got["model.onnx"] != scan.VerdictClean {
		t.Errorf("verdicts %v", got)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	ts, err := sc.ScanPaths(context.Background(), []string{filepath.Join(dir, "weights.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if rep := scan.NewReport(scan.Tool{}, ts); rep.Targets[0].Verdict != scan.VerdictMalformed {
		t.Errorf("weights.bin scanned alone: verdict %s, want malformed", rep.Targets[0].Verdict)
	}
}

func TestAPathUnderWhichNoFileIsFoundScansNothing(t *testing.T) {
	empty := t.TempDir()
	nested := writeFiles(t, map[string]string{"a/b/.keep-dir/x": ""})
	os.Remove(filepath.Join(nested, "a", "b", ".keep-dir", "x"))
	full := writeFiles(t, map[string]string{"model.safetensors": ""})
	cases := []struct {
		name  string
		paths []string
		why   string
	}{
		{"an empty folder", []string{empty}, "no file found"},
		{"a tree of empty folders", []string{nested}, "no file found"},
		{"a path that does not exist (a pattern that matched nothing)", []string{filepath.Join(empty, "*.pt")}, "no such file"},
		{"an empty folder beside a full one", []string{full, empty}, "no file found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			ts, err := sc.ScanPaths(context.Background(), c.paths)
			if err != nil {
				t.Fatal(err)
			}
			var nothing []scan.Target
			for _, tg := range ts {
				if tg.Format == scan.FormatNothing {
					nothing = append(nothing, tg)
				}
			}
			if len(nothing) != 1 {
				t.Fatalf("want one nothing-scanned target, got %+v", ts)
			}
			n := nothing[0]
			if n.Path != c.paths[len(c.paths)-1] || n.Verdict != scan.VerdictMalformed || len(n.Findings) != 1 ||
				n.Findings[0].RuleID != scan.RuleNothingScanned || !strings.HasPrefix(n.Error, "nothing scanned: ") || !strings.Contains(n.Error, c.why) {
				t.Errorf("target %+v, want a nothing-scanned one saying %q", n, c.why)
			}
			if len(ts) != len(c.paths) {
				t.Errorf("%d targets for %d paths: %+v", len(ts), len(c.paths), ts)
			}
		})
	}
}

func TestTextSaysNothingScanned(t *testing.T) {
	for _, c := range []struct {
		name    string
		targets []scan.Target
		want    []string
		notWant string
	}{
		{"nothing at all", []scan.Target{scan.NothingScanned("models/", "no file found")},
			[]string{"ERROR    MV-NOTHING-SCANNED models/: nothing scanned: no file found\n", "nothing scanned in models/\n"}, "0 scanned"},
		{"beside a scanned file", []scan.Target{scan.NothingScanned("empty/", "no file found"), {Path: "ok.safetensors", Verdict: scan.VerdictClean}},
			[]string{"1 scanned: 0 dangerous, 0 malformed, 1 clean, 0 unsupported\n", "nothing scanned in empty/\n"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := scan.WriteText(&b, scan.NewReport(scan.Tool{}, c.targets), scan.SeverityMedium); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, b.String())
				}
			}
			if c.notWant != "" && strings.Contains(b.String(), c.notWant) {
				t.Errorf("text has %q:\n%s", c.notWant, b.String())
			}
		})
	}
}
