package pickle_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

func scanBytes(t testing.TB, data []byte, opts scan.Options) scan.Target {
	t.Helper()
	opts.Formats = []scan.Format{pickle.Format{}}
	return scan.New(opts).ScanReaderAt(context.Background(), "t", bytes.NewReader(data), int64(len(data)))
}

func fixtureDir(kind string) string {
	return filepath.Join("..", "..", "..", "fixtures", "pickle", kind)
}

func TestFixturesMaliciousAreDangerous(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir("malicious"), "*"))
	if len(files) < 30 {
		t.Fatalf("expected the malicious fixtures, found %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := scanBytes(t, data, scan.Options{})
			if got.Verdict != scan.VerdictDangerous {
				t.Errorf("verdict %s, want dangerous; findings %+v, error %q", got.Verdict, got.Findings, got.Error)
			}
		})
	}
}

func TestFixturesBenignAreClean(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir("benign"), "*"))
	if len(files) < 20 {
		t.Fatalf("expected the benign fixtures, found %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := scanBytes(t, data, scan.Options{})
			if got.Verdict != scan.VerdictClean {
				t.Errorf("verdict %s, want clean; error %q", got.Verdict, got.Error)
			}
			for _, fd := range got.Findings {
				if fd.Severity >= scan.SeverityMedium {
					t.Errorf("unexpected finding %+v", fd)
				}
			}
		})
	}
}
