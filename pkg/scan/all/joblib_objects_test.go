package all_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

// TestJoblibObjectArraysAreScannedInline checks fixtures/joblib (gen.py):
// arrays whose dtype holds objects anywhere (plain, a structured field, a
// subarray) are pickled inline by joblib, and a payload there is reported.
func TestJoblibObjectArraysAreScannedInline(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "joblib")
	files, err := filepath.Glob(filepath.Join(dir, "*.joblib"))
	if err != nil || len(files) < 12 {
		t.Fatalf("joblib fixtures: %v %d", err, len(files))
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tg := sc.ScanReaderAt(context.Background(), name, bytes.NewReader(b), int64(len(b)))
			want := scan.VerdictClean
			if strings.HasPrefix(name, "malicious_") {
				want = scan.VerdictDangerous
			}
			if tg.Verdict != want {
				t.Errorf("verdict %s, want %s: %+v", tg.Verdict, want, tg.Findings)
			}
		})
	}
}
