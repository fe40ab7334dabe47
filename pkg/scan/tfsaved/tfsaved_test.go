package tfsaved

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
)

const fixtures = "../../../fixtures/formats/tfsaved"

func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(fixtures, "*"))
	if err != nil || len(dirs) < 8 {
		t.Fatalf("fixtures: %v (%d)", err, len(dirs))
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	for _, d := range dirs {
		name := filepath.Base(d)
		t.Run(name, func(t *testing.T) {
			// A SavedModel is a folder: judge it as scanning the folder does.
			tgs, err := sc.ScanPaths(context.Background(), []string{d})
			if err != nil {
				t.Fatal(err)
			}
			got := scan.VerdictClean
			for _, tg := range tgs {
				if !strings.HasPrefix(tg.Format, "tf-") && tg.Format != "keras-metadata" {
					t.Fatalf("%s: format %q", tg.Path, tg.Format)
				}
				if tg.Verdict == scan.VerdictDangerous || tg.Verdict == scan.VerdictMalformed && got == scan.VerdictClean {
					got = tg.Verdict
				}
				if strings.HasPrefix(name, "benign") && len(tg.Findings) != 0 {
					t.Fatalf("%s: findings %+v", tg.Path, tg.Findings)
				}
			}
			want := map[string]scan.Verdict{"benign": scan.VerdictClean, "evil": scan.VerdictDangerous, "malformed": scan.VerdictMalformed}[strings.SplitN(name, "_", 2)[0]]
			if got != want {
				t.Fatalf("verdict %s, want %s; targets %+v", got, want, tgs)
			}
		})
	}
}

func TestKerasMetadataLambda(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "evil_keras_lambda", "keras_metadata.pb"), "keras_metadata.pb")
	if tg.Format != "keras-metadata" || len(tg.Findings) == 0 || tg.Findings[0].RuleID != scan.RuleKerasLambda || tg.Findings[0].Severity != scan.SeverityCritical {
		t.Fatalf("%+v", tg)
	}
}

func TestHiddenOpIsFoundInFunctionBody(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "evil_writefile_hidden", "saved_model.pb"), "m")
	if len(tg.Findings) != 1 || tg.Findings[0].Symbol != "WriteFile" || !strings.Contains(tg.Findings[0].Message, "__inference_while_body_12") {
		t.Fatalf("findings %+v", tg.Findings)
	}
}

func TestFingerprint(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "benign", "fingerprint.pb"), "fingerprint.pb")
	if tg.Format != "tf-fingerprint" || tg.Verdict != scan.VerdictClean {
		t.Fatalf("%+v", tg)
	}
}

func TestMatchRejectsOthers(t *testing.T) {
	for _, head := range [][]byte{
		[]byte("\x08\x08\x12\x07pytorch"), // ONNX
		[]byte("\x80\x04\x95"),
		[]byte("\x08\x01\x12\x03abc"),
	} {
		if (Format{}).Match(head, int64(len(head))) {
			t.Errorf("matched % x", head)
		}
	}
}

func FuzzScan(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*", "*.pb"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(b), int64(len(b)))
	})
}

// graphDef is a frozen GraphDef with one node per op, as
// tf.compat.v1.graph_util writes them: node (1) with name (1) and op (2),
// then versions (4).
func graphDef(ops ...string) []byte {
	var b []byte
	for i, op := range ops {
		var n []byte
		n = protowire.AppendTag(n, 1, protowire.BytesType)
		n = protowire.AppendString(n, fmt.Sprintf("node_%d", i))
		n = protowire.AppendTag(n, 2, protowire.BytesType)
		n = protowire.AppendString(n, op)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, n)
	}
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	return protowire.AppendBytes(b, []byte{0x08, 0x1b})
}

func TestFrozenGraphDef(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	good := graphDef("Placeholder", "Const", "MatMul", "Identity")
	for _, c := range []struct {
		name string
		data []byte
		want scan.Verdict
	}{
		{"a frozen graph of plain ops is clean", good, scan.VerdictClean},
		{"a frozen graph with PyFunc is dangerous", graphDef("Placeholder", "PyFunc"), scan.VerdictDangerous},
		{"a frozen graph that reads files is dangerous", graphDef("Const", "ReadFile"), scan.VerdictDangerous},
		{"a frozen graph cut short is malformed", good[:len(good)-3], scan.VerdictMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := sc.ScanReaderAt(context.Background(), "frozen_graph.pb", bytes.NewReader(c.data), int64(len(c.data)))
			if tg.Format != "tf-graphdef" || tg.Verdict != c.want {
				t.Fatalf("format %s, verdict %s, want tf-graphdef %s: %+v %s", tg.Format, tg.Verdict, c.want, tg.Findings, tg.Error)
			}
		})
	}
	if matchGraphDef([]byte("\x0a\x10\x0a\x01x\x12\x03a\x00b")) {
		t.Error("an op name with a control byte matched")
	}
}
