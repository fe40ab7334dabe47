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

// FuzzVM feeds arbitrary bytes to the VM with small limits: it must never
// panic, hang or allocate without bound, and whatever it reports must be a
// well-formed target.
func FuzzVM(f *testing.F) {
	for _, dir := range []string{fixtureDir("benign"), fixtureDir("malicious"), filepath.Join("..", "..", "..", "..", "shared", "corpus", "public")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f."))
	f.Add([]byte("(((((((((((((((((((((((((((((((((((((("))
	sc := scan.MustNew(scan.Options{
		Formats: []scan.Format{pickle.Format{}},
		Limits:  scan.Limits{MaxMemo: 10000, MaxStack: 10000, MaxOpcodes: 200000, MaxLiteral: 1 << 20, MaxDepth: 3},
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		got := sc.ScanReaderAt(context.Background(), "fuzz", bytes.NewReader(data), int64(len(data)))
		switch got.Verdict {
		case scan.VerdictClean, scan.VerdictDangerous, scan.VerdictMalformed, scan.VerdictUnsupported:
		default:
			t.Fatalf("verdict %q", got.Verdict)
		}
		for _, fd := range got.Findings {
			if fd.RuleID == "" || fd.Message == "" {
				t.Fatalf("finding without rule or message: %+v", fd)
			}
		}
		if len(got.Findings) > 1100 {
			t.Fatalf("%d findings: the per-stream cap did not hold", len(got.Findings))
		}
	})
}
