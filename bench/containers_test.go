// Benchmarks of the container scanners on large files: a 1 GiB PyTorch zip
// checkpoint and a 1 GiB legacy checkpoint must be scanned by reading only
// their pickles, and a folder of many files is scanned on every core.
//
//	go test ./bench -run XXX -bench Containers -benchtime 5x
package bench_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

func fixture(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "containers", rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// bigTorchZip writes a torch.save zip whose storage member is size bytes of
// zeros, left as a hole in a sparse file, and returns its path.
func bigTorchZip(tb testing.TB, size int64) string {
	src := fixture(tb, "benign/state_dict.pt")
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		tb.Fatal(err)
	}
	name := filepath.Join(tb.TempDir(), "big.pt")
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	type cd struct {
		name      string
		off, size int64
	}
	var dir []cd
	var pos int64
	write := func(b []byte) {
		if _, err := f.Write(b); err != nil {
			tb.Fatal(err)
		}
		pos += int64(len(b))
	}
	local := func(name string, n int64) {
		h := make([]byte, 30)
		binary.LittleEndian.PutUint32(h, 0x04034b50)
		binary.LittleEndian.PutUint16(h[4:], 20)
		binary.LittleEndian.PutUint32(h[18:], uint32(n))
		binary.LittleEndian.PutUint32(h[22:], uint32(n))
		binary.LittleEndian.PutUint16(h[26:], uint16(len(name)))
		dir = append(dir, cd{name, pos, n})
		write(append(h, name...))
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		local(zf.Name, int64(len(b)))
		write(b)
	}
	local("archive/data/big", size)
	if _, err := f.Seek(size, io.SeekCurrent); err != nil {
		tb.Fatal(err)
	}
	pos += size
	cdStart := pos
	for _, e := range dir {
		h := make([]byte, 46)
		binary.LittleEndian.PutUint32(h, 0x02014b50)
		binary.LittleEndian.PutUint16(h[4:], 20)
		binary.LittleEndian.PutUint16(h[6:], 20)
		binary.LittleEndian.PutUint32(h[20:], uint32(e.size))
		binary.LittleEndian.PutUint32(h[24:], uint32(e.size))
		binary.LittleEndian.PutUint16(h[28:], uint16(len(e.name)))
		binary.LittleEndian.PutUint32(h[42:], uint32(e.off))
		write(append(h, e.name...))
	}
	end := make([]byte, 22)
	binary.LittleEndian.PutUint32(end, 0x06054b50)
	binary.LittleEndian.PutUint16(end[8:], uint16(len(dir)))
	binary.LittleEndian.PutUint16(end[10:], uint16(len(dir)))
	binary.LittleEndian.PutUint32(end[12:], uint32(pos-cdStart))
	binary.LittleEndian.PutUint32(end[16:], uint32(cdStart))
	write(end)
	return name
}

// bigLegacy writes a legacy checkpoint followed by size bytes of storage.
func bigLegacy(tb testing.TB, size int64) string {
	name := filepath.Join(tb.TempDir(), "legacy.pt")
	src := fixture(tb, "benign/legacy_state_dict.pt")
	if err := os.WriteFile(name, src, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(name, int64(len(src))+size); err != nil {
		tb.Fatal(err)
	}
	return name
}

func benchFile(b *testing.B, name, format string) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), DigestLimit: -1})
	fi, _ := os.Stat(name)
	b.SetBytes(fi.Size())
	b.ResetTimer()
	for b.Loop() {
		t := sc.ScanFile(context.Background(), name, name)
		if t.Format != format || t.Verdict != scan.VerdictClean {
			b.Fatalf("format %s verdict %s: %+v", t.Format, t.Verdict, t.Findings)
		}
	}
}

func BenchmarkContainersTorchZip1GiB(b *testing.B) {
	benchFile(b, bigTorchZip(b, 1<<30), "pytorch-zip")
}

func BenchmarkContainersTorchLegacy1GiB(b *testing.B) {
	benchFile(b, bigLegacy(b, 1<<30), "pytorch-legacy")
}

// BenchmarkContainersFolder scans a folder of 400 fixtures with one worker
// and with one per CPU; the second should take about 1/NumCPU of the time.
func BenchmarkContainersFolder(b *testing.B) {
	dir := b.TempDir()
	names, _ := filepath.Glob(filepath.Join("..", "fixtures", "containers", "benign", "*"))
	for i := range 400 {
		src := names[i%len(names)]
		data, err := os.ReadFile(src)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d-%s", i, filepath.Base(src))), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			sc := scan.MustNew(scan.Options{Formats: all.Formats(), Workers: workers})
			for b.Loop() {
				ts, err := sc.ScanPaths(context.Background(), []string{dir})
				if err != nil || len(ts) != 400 {
					b.Fatalf("%d targets, %v", len(ts), err)
				}
			}
		})
	}
}

// TestBigCheckpointsReadOnlyPickles is the benchmarks' claim as a test: the
// 1 GiB checkpoints are scanned clean without reading their storages.
func TestBigCheckpointsReadOnlyPickles(t *testing.T) {
	for _, c := range []struct {
		name, format string
	}{{bigTorchZip(t, 1<<30), "pytorch-zip"}, {bigLegacy(t, 1<<30), "pytorch-legacy"}} {
		sc := scan.MustNew(scan.Options{Formats: all.Formats()})
		tg := sc.ScanFile(context.Background(), c.name, c.name)
		if tg.Format != c.format || tg.Verdict != scan.VerdictClean {
			t.Errorf("%s: format %s verdict %s: %+v", c.format, tg.Format, tg.Verdict, tg.Findings)
		}
	}
}
