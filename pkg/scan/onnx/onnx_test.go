package onnx

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

const fixtures = "../../../fixtures/formats/onnx"

func scanner() *scan.Scanner {
	return scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	if err != nil || len(files) < 8 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	files = append(files, filepath.Join(fixtures, "benign_external", "model.onnx"))
	for _, f := range files {
		name := filepath.Base(f)
		if name == "model.onnx" {
			name = "benign_external"
		}
		t.Run(name, func(t *testing.T) {
			tg := scanner().ScanFile(context.Background(), f, name)
			if tg.Format != "onnx" {
				t.Fatalf("format %q", tg.Format)
			}
			want := map[string]scan.Verdict{"benign": scan.VerdictClean, "report": scan.VerdictClean, "evil": scan.VerdictDangerous, "malformed": scan.VerdictMalformed}[strings.SplitN(name, "_", 2)[0]]
			if tg.Verdict != want {
				t.Fatalf("verdict %s, want %s; findings %+v; error %s", tg.Verdict, want, tg.Findings, tg.Error)
			}
			if strings.HasPrefix(name, "benign") && len(tg.Findings) != 0 {
				t.Fatalf("findings on a benign model: %+v", tg.Findings)
			}
		})
	}
}

func TestCustomDomainIsReported(t *testing.T) {
	tg := scanner().ScanFile(context.Background(), filepath.Join(fixtures, "report_custom_domain.onnx"), "m")
	if len(tg.Findings) != 1 || tg.Findings[0].RuleID != scan.RuleCustomOperator || tg.Findings[0].Symbol != "com.example.ops" || tg.Findings[0].Severity != scan.SeverityMedium {
		t.Fatalf("findings %+v", tg.Findings)
	}
}

func TestNestedTraversalIsFound(t *testing.T) {
	tg := scanner().ScanFile(context.Background(), filepath.Join(fixtures, "evil_nested_traversal.onnx"), "m")
	for _, f := range tg.Findings {
		if f.RuleID == scan.RuleExternalData && f.Symbol == "../../.ssh/id_rsa" {
			return
		}
	}
	t.Fatalf("findings %+v", tg.Findings)
}

// copyModel copies the benign external-data model into a fresh folder.
func copyModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(fixtures, "benign_external", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExternalDataThroughSymlinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(dir string) error
		want  scan.Verdict
		rule  string
	}{
		{"a file inside the folder is clean", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 8), 0o644)
		}, scan.VerdictClean, ""},
		{"a symlink to a file outside the folder is dangerous", func(dir string) error {
			return os.Symlink(outside, filepath.Join(dir, "weights.bin"))
		}, scan.VerdictDangerous, scan.RuleExternalData},
		{"a symlink inside the folder is clean", func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "real.bin"), make([]byte, 8), 0o644); err != nil {
				return err
			}
			return os.Symlink("real.bin", filepath.Join(dir, "weights.bin"))
		}, scan.VerdictClean, ""},
		{"a dangling symlink is dangerous", func(dir string) error {
			return os.Symlink("/nonexistent/modelverify", filepath.Join(dir, "weights.bin"))
		}, scan.VerdictDangerous, scan.RuleExternalData},
		{"a symlink to a device is dangerous", func(dir string) error {
			return os.Symlink("/dev/zero", filepath.Join(dir, "weights.bin"))
		}, scan.VerdictDangerous, scan.RuleExternalData},
		{"a short file is malformed", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 4), 0o644)
		}, scan.VerdictMalformed, scan.RuleMalformed},
		{"a missing file is reported low", func(dir string) error { return nil }, scan.VerdictClean, scan.RuleExternalData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModel(t)
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			tg := scanner().ScanFile(context.Background(), filepath.Join(dir, "model.onnx"), "model.onnx")
			if tg.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s: %+v", tg.Verdict, tt.want, tg.Findings)
			}
			if tt.rule == "" && len(tg.Findings) != 0 || tt.rule != "" && (len(tg.Findings) == 0 || tg.Findings[0].RuleID != tt.rule) {
				t.Fatalf("findings %+v, want rule %q", tg.Findings, tt.rule)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "benign_add.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !(Format{}).Match(b, int64(len(b))) {
		t.Fatal("an ONNX model not matched")
	}
	for _, head := range [][]byte{
		[]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00"), // pickle
		[]byte("\x08\x01\x12\x05\x0a\x03abc"),                  // SavedModel: field 2 is a message
		[]byte("PK\x03\x04\x14\x00\x00\x00"),
		[]byte("\x08\x00\x12\x03abc"), // ir_version 0
	} {
		if (Format{}).Match(head, int64(len(head))) {
			t.Errorf("matched % x", head)
		}
	}
}

func FuzzScan(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1, Limits: scan.Limits{MaxNesting: 32}})
	f.Fuzz(func(t *testing.T, b []byte) {
		(Format{}).Match(b[:min(len(b), scan.HeadSize)], int64(len(b)))
		sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(b), int64(len(b)))
	})
}

// A model that onnx.load could not decode is malformed whatever its name:
// cut short, or with bytes after it that are no protobuf field. Content
// that is not recognisably ONNX is not claimed.
func TestUndecodableModelsAreMalformed(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(fixtures, "benign_add.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want scan.Verdict
		msg  string
	}{
		{"the fixture is clean", good, scan.VerdictClean, ""},
		{"cut in half", good[:len(good)/2], scan.VerdictMalformed, "declares"},
		{"one byte short", good[:len(good)-1], scan.VerdictMalformed, "protobuf"},
		{"a byte of an invalid wire type after it", append(bytes.Clone(good), 0x0f), scan.VerdictMalformed, "wire type 7"},
		{"a field ONNX does not define after it", append(bytes.Clone(good), 0x98, 0x06, 0x01), scan.VerdictClean, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := scanner().ScanReaderAt(context.Background(), "m.dat", bytes.NewReader(c.data), int64(len(c.data)))
			if tg.Format != "onnx" || tg.Verdict != c.want || !strings.Contains(tg.Error, c.msg) {
				t.Fatalf("format %s, verdict %s, error %q; want onnx, %s, %q", tg.Format, tg.Verdict, tg.Error, c.want, c.msg)
			}
		})
	}
	if (Format{}).Match([]byte("\x08\x07\x12\x02ab\xff\xff"), 8) {
		t.Error("two fields and then garbage matched as ONNX")
	}
}

// Bare TensorProtos (ONNX test data sets, onnx.save_tensor) are data: clean
// when they decode, malformed when they do not, and their external data is
// judged as a model's is. A tensor is never taken for a model.
func TestBareTensors(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}, Tensor{}}, Workers: 1})
	files, _ := filepath.Glob(filepath.Join(fixtures, "benign_test_data_set_0", "*.pb"))
	if len(files) != 3 {
		t.Fatalf("want the three test data set tensors, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), f, filepath.Base(f))
			if tg.Format != "onnx-tensor" || tg.Verdict != scan.VerdictClean || len(tg.Findings) != 0 {
				t.Fatalf("format %s, verdict %s, findings %+v, error %s", tg.Format, tg.Verdict, tg.Findings, tg.Error)
			}
			b, _ := os.ReadFile(f)
			if (Format{}).Match(b[:min(len(b), scan.HeadSize)], int64(len(b))) {
				t.Error("a tensor matched as a ModelProto")
			}
			cut := b[:len(b)-1]
			if tg := sc.ScanReaderAt(context.Background(), "cut.pb", bytes.NewReader(cut), int64(len(cut))); tg.Verdict != scan.VerdictMalformed {
				t.Errorf("cut one byte short: format %s, verdict %s", tg.Format, tg.Verdict)
			}
		})
	}
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "evil_tensor_traversal.pb"), "t.pb")
	if tg.Format != "onnx-tensor" || tg.Verdict != scan.VerdictDangerous || tg.Findings[0].RuleID != scan.RuleExternalData {
		t.Errorf("external data outside the folder: format %s, verdict %s, findings %+v", tg.Format, tg.Verdict, tg.Findings)
	}
	for _, head := range []string{"\x10\x00", "\x10\x18", "\x08\x02\x10\x01\x3d", "# text\n"} {
		if (Tensor{}).Match([]byte(head), int64(len(head))) {
			t.Errorf("%q matched as a tensor", head)
		}
	}
}

func FuzzTensor(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "benign_test_data_set_0", "*.pb"))
	files = append(files, filepath.Join(fixtures, "evil_tensor_traversal.pb"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Tensor{}}, Workers: 1, Limits: scan.Limits{MaxNesting: 32}})
	f.Fuzz(func(t *testing.T, b []byte) {
		(Tensor{}).Match(b[:min(len(b), scan.HeadSize)], int64(len(b)))
		sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(b), int64(len(b)))
	})
}
