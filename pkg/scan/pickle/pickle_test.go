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

// Every fixture gets the verdict of its folder: malicious ones are
// dangerous, benign ones clean with nothing at medium or above.
func TestFixturesHaveTheVerdictOfTheirFolder(t *testing.T) {
	for _, c := range []struct {
		kind string
		want scan.Verdict
		min  int
	}{{"malicious", scan.VerdictDangerous, 30}, {"benign", scan.VerdictClean, 20}} {
		files, _ := filepath.Glob(filepath.Join(fixtureDir(c.kind), "*"))
		if len(files) < c.min {
			t.Fatalf("expected the %s fixtures, found %d files", c.kind, len(files))
		}
		for _, f := range files {
			t.Run(c.kind+"/"+filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				got := scanBytes(t, data, scan.Options{})
				if got.Verdict != c.want {
					t.Errorf("verdict %s, want %s; findings %+v, error %q", got.Verdict, c.want, got.Findings, got.Error)
				}
				if c.want != scan.VerdictClean {
					return
				}
				for _, fd := range got.Findings {
					if fd.Severity >= scan.SeverityMedium {
						t.Errorf("unexpected finding %+v", fd)
					}
				}
			})
		}
	}
}
