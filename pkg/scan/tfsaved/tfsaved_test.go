package tfsaved

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

const fixtures = "../../../fixtures/formats/tfsaved"

func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(fixtures, "*"))
	if err != nil || len(dirs) < 8 {
		t.Fatalf("fixtures: %v (%d)", err, len(dirs))
	}
	sc := scan.New(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
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
	sc := scan.New(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "evil_keras_lambda", "keras_metadata.pb"), "keras_metadata.pb")
	if tg.Format != "keras-metadata" || len(tg.Findings) == 0 || tg.Findings[0].RuleID != scan.RuleKerasLambda || tg.Findings[0].Severity != scan.SeverityCritical {
		t.Fatalf("%+v", tg)
	}
}

func TestHiddenOpIsFoundInFunctionBody(t *testing.T) {
	sc := scan.New(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	tg := sc.ScanFile(context.Background(), filepath.Join(fixtures, "evil_writefile_hidden", "saved_model.pb"), "m")
	if len(tg.Findings) != 1 || tg.Findings[0].Symbol != "WriteFile" || !strings.Contains(tg.Findings[0].Message, "__inference_while_body_12") {
		t.Fatalf("findings %+v", tg.Findings)
	}
}

func TestFingerprint(t *testing.T) {
	sc := scan.New(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
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
	sc := scan.New(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(b), int64(len(b)))
	})
}
