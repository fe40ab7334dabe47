package pickle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

func scanBytes(t testing.TB, data []byte, opts scan.Options) scan.Target {
	t.Helper()
	opts.Formats = []scan.Format{pickle.Format{}}
	return scan.MustNew(opts).ScanReaderAt(context.Background(), "t", bytes.NewReader(data), int64(len(data)))
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

// A FRAME longer than the data left makes pickle.load and torch.load fail
// before running anything, while joblib's Python unpickler runs what is
// there: the file is malformed unless what would run is dangerous.
func TestFrameLongerThanTheStream(t *testing.T) {
	frame := func(n uint64, body string) []byte {
		b := []byte("\x80\x04\x95")
		b = binary.LittleEndian.AppendUint64(b, n)
		return append(b, body...)
	}
	clean := "}\x94."
	evil := "\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
	cases := []struct {
		name string
		data []byte
		want scan.Verdict
	}{
		{"a frame of the right length is clean", frame(uint64(len(clean)), clean), scan.VerdictClean},
		{"a frame longer than the file is malformed", frame(1<<20, clean), scan.VerdictMalformed},
		{"a dangerous pickle in a long frame is dangerous", frame(1<<20, evil), scan.VerdictDangerous},
		{"a long frame after the first STOP is trailing data", append([]byte(clean), frame(1<<20, "")...), scan.VerdictClean},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scanBytes(t, c.data, scan.Options{})
			if got.Verdict != c.want {
				t.Fatalf("verdict %s, want %s: %+v", got.Verdict, c.want, got.Findings)
			}
			if c.want == scan.VerdictMalformed {
				f := got.Findings[0]
				if f.RuleID != scan.RuleMalformed || f.Opcode != "FRAME" || f.Offset != 2 || !strings.Contains(f.Message, "FRAME declares 1048576 bytes") {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}
