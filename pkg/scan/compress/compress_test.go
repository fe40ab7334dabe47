package compress_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/counting"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/compress"
)

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "containers", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scanBytes(t testing.TB, b []byte, lim scan.Limits) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Limits: lim})
	return sc.ScanReaderAt(context.Background(), "t", bytes.NewReader(b), int64(len(b)))
}

func dangerousIn(tg scan.Target, member string) bool {
	for _, f := range tg.Findings {
		if f.Severity >= scan.SeverityHigh && strings.HasPrefix(f.Member, member) {
			return true
		}
	}
	return false
}

func TestEveryCompressorIsOpened(t *testing.T) {
	cases := []struct {
		file, format, member string
	}{
		{"malicious/evil.pkl.gz", "gzip", "[gzip]"},
		{"malicious/evil.pkl.bz2", "bzip2", "[bz2]"},
		{"malicious/evil.pkl.xz", "xz", "[xz]"},
		{"malicious/evil.pkl.zst", "zstd", "[zstd]"},
		{"malicious/evil.pkl.lz4", "lz4", "[lz4]"},
		{"malicious/joblib_zlib.joblib", "zlib", "[zlib]"},
		{"malicious/joblib_gzip.joblib", "gzip", "[gzip]"},
		{"malicious/joblib_bz2.joblib", "bzip2", "[bz2]"},
		{"malicious/joblib_xz.joblib", "xz", "[xz]"},
		{"malicious/joblib_lzma.joblib", "lzma", "[lzma]"},
		{"malicious/joblib_lz4.joblib", "lz4", "[lz4]"},
		{"malicious/joblib_zfile.pkl", "joblib-zfile", "[zlib]"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			tg := scanBytes(t, fixture(t, c.file), scan.Limits{})
			if tg.Format != c.format {
				t.Errorf("format %s, want %s", tg.Format, c.format)
			}
			if !dangerousIn(tg, c.member) {
				t.Errorf("payload not found in %s: %+v", c.member, tg.Findings)
			}
			benign := strings.Replace(c.file, "malicious/", "benign/", 1)
			if _, err := os.Stat(filepath.Join("..", "..", "..", "fixtures", "containers", benign)); err == nil {
				if tg := scanBytes(t, fixture(t, benign), scan.Limits{}); tg.Verdict != scan.VerdictClean {
					t.Errorf("%s: %s %+v", benign, tg.Verdict, tg.Findings)
				}
			}
		})
	}
}

func TestTruncatedStreamStillScansWhatItHolds(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."))
	zw.Write(bytes.Repeat([]byte{'N', '0'}, 50000))
	zw.Close()
	b := buf.Bytes()[:buf.Len()-30]
	tg := scanBytes(t, b, scan.Limits{})
	if tg.Verdict != scan.VerdictDangerous {
		t.Errorf("verdict %s: %+v", tg.Verdict, tg.Findings)
	}
	malformed := false
	for _, f := range tg.Findings {
		malformed = malformed || f.RuleID == scan.RuleMalformed
	}
	if !malformed {
		t.Errorf("truncation not reported: %+v", tg.Findings)
	}
}

func TestBombsHitALimit(t *testing.T) {
	zeros := make([]byte, 1<<20)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	for range 300 {
		zw.Write(zeros)
	}
	zw.Close()
	// An lzma-alone header declaring a 4 GiB dictionary.
	lzmaHuge := append([]byte{0x5d, 0, 0, 0, 0x80}, bytes.Repeat([]byte{0xff}, 8)...)
	lzmaHuge = append(lzmaHuge, make([]byte, 64)...)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"a 300 MiB gzip bomb", gz.Bytes(), "max-ratio"},
		{"an lzma dictionary larger than the window limit", lzmaHuge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := counting.NewReaderAt(bytes.NewReader(c.data))
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			tg := sc.ScanReaderAt(context.Background(), "t", r, int64(len(c.data)))
			runtime.ReadMemStats(&after)
			if n := r.Read(); n > 8*int64(len(c.data)) {
				t.Errorf("read %d bytes of a %d-byte file", n, len(c.data))
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes read, %d MiB allocated", r.Read(), alloc>>20)
			if alloc > 256<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if tg.Verdict != scan.VerdictMalformed {
				t.Errorf("verdict %s: %+v", tg.Verdict, tg.Findings)
			}
			if c.want != "" {
				found := false
				for _, f := range tg.Findings {
					found = found || (f.RuleID == scan.RuleLimit && strings.Contains(f.Message, c.want))
				}
				if !found {
					t.Errorf("no %s finding: %+v", c.want, tg.Findings)
				}
			}
		})
	}
}

func TestMatchIsStrict(t *testing.T) {
	// Pickles whose first opcodes resemble compression magic must stay
	// pickles: EMPTY_LIST (0x5d, like lzma) and MARK (0x28).
	for _, head := range [][]byte{
		[]byte("]q\x00(K\x01K\x02e."),
		[]byte("(lp0\nI1\na."),
		[]byte("x"),
	} {
		for _, f := range compress.Formats() {
			if f.Match(head, int64(len(head))) {
				t.Errorf("%s matches pickle %q", f.Name(), head)
			}
		}
	}
}

func FuzzDecompress(f *testing.F) {
	for _, n := range []string{"malicious/evil.pkl.gz", "malicious/evil.pkl.bz2", "malicious/evil.pkl.xz", "malicious/evil.pkl.zst",
		"malicious/evil.pkl.lz4", "benign/joblib_zlib.joblib", "benign/joblib_lzma.joblib", "benign/joblib_zfile.pkl"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := scan.MustNew(scan.Options{Formats: compress.Formats(), Limits: scan.Limits{MaxExpandedBytes: 64 << 20}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if tg := sc.ScanReaderAt(ctx, "f", bytes.NewReader(b), int64(len(b))); tg.Verdict == "" {
			t.Fatal("no verdict")
		}
	})
}
