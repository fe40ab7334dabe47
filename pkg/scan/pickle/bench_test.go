package pickle_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// writeDenseDicts writes what CPython's pickle.dumps writes at protocol 4 for
// [{'a': i, 'b': str(i), 'c': float(i)} for i in range(n)]: framed, memoised,
// batched in APPENDS of 1000. It streams to disk, so the benchmark itself
// holds no copy of the file.
func writeDenseDicts(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var frame []byte
	var total int64
	flush := func(force bool) {
		if len(frame) >= 64<<10 || (force && len(frame) > 0) {
			var hdr [9]byte
			hdr[0] = 0x95
			binary.LittleEndian.PutUint64(hdr[1:], uint64(len(frame)))
			w.Write(hdr[:])
			w.Write(frame)
			total += int64(9 + len(frame))
			frame = frame[:0]
		}
	}
	w.Write([]byte{0x80, 4})
	total += 2
	memo := uint32(0)
	memoize := func() { frame = append(frame, 0x94); memo++ }
	get := func(i uint32) {
		if i < 256 {
			frame = append(frame, 'h', byte(i))
		} else {
			frame = append(frame, 'j', byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
		}
	}
	frame = append(frame, ']')
	memoize()
	frame = append(frame, '(')
	var keyA, keyB, keyC uint32
	for i := 0; i < n; i++ {
		frame = append(frame, '}')
		memoize()
		frame = append(frame, '(')
		if i == 0 {
			frame = append(frame, 0x8c, 1, 'a')
			keyA = memo
			memoize()
		} else {
			get(keyA)
		}
		frame = append(frame, 'J', byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
		if i == 0 {
			frame = append(frame, 0x8c, 1, 'b')
			keyB = memo
			memoize()
		} else {
			get(keyB)
		}
		s := strconv.Itoa(i)
		frame = append(frame, 0x8c, byte(len(s)))
		frame = append(frame, s...)
		memoize()
		if i == 0 {
			frame = append(frame, 0x8c, 1, 'c')
			keyC = memo
			memoize()
		} else {
			get(keyC)
		}
		frame = append(frame, 'G', 0x40, 0, 0, 0, 0, 0, 0, 0)
		frame = append(frame, 'u')
		if i%1000 == 999 {
			frame = append(frame, 'e', '(')
		}
		flush(false)
	}
	frame = append(frame, 'e', '.')
	flush(true)
	return total, w.Flush()
}

// peakRSS reads the process's peak resident set size (Linux).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkDenseDicts scans a ~64 MiB opcode-dense pickle: 2 million small
// dicts at protocol 4. Reported: MB/s (from SetBytes) and the process's peak
// RSS, which includes the test binary itself.
func BenchmarkDenseDicts(b *testing.B) {
	path := filepath.Join(b.TempDir(), "dense.pkl")
	size, err := writeDenseDicts(path, 2_000_000)
	if err != nil {
		b.Fatal(err)
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{pickle.Format{}}, DigestLimit: -1})
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		got := sc.ScanFile(context.Background(), path, "dense.pkl")
		if got.Verdict != scan.VerdictClean {
			b.Fatalf("verdict %s: %+v %s", got.Verdict, got.Findings, got.Error)
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}
