package torch_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/torch"
)

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "containers", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLegacy(t *testing.T) {
	cases := []struct {
		file string
		want scan.Verdict
	}{
		{"benign/legacy_state_dict.pt", scan.VerdictClean},
		{"benign/legacy_checkpoint.pt", scan.VerdictClean},
		{"malicious/torch_legacy_reduce.pt", scan.VerdictDangerous},
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b := fixture(t, c.file)
			tg := sc.ScanReaderAt(context.Background(), c.file, bytes.NewReader(b), int64(len(b)))
			if tg.Format != "pytorch-legacy" || tg.Verdict != c.want {
				t.Errorf("format %s verdict %s, want pytorch-legacy %s: %+v", tg.Format, tg.Verdict, c.want, tg.Findings)
			}
		})
	}
}

// countingFile is a legacy checkpoint padded with size bytes of storage,
// which counts the bytes read.
type countingFile struct {
	head []byte
	size int64
	read atomic.Int64
}

func (c *countingFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), c.size-off))
	for i := range n {
		if off+int64(i) < int64(len(c.head)) {
			p[i] = c.head[off+int64(i)]
		} else {
			p[i] = 0
		}
	}
	c.read.Add(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestLegacyReadsOnlyThePickles(t *testing.T) {
	f := &countingFile{head: fixture(t, "benign/legacy_state_dict.pt"), size: 1 << 30}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	start := time.Now()
	tg := sc.ScanReaderAt(context.Background(), "big.pt", f, f.size)
	if tg.Verdict != scan.VerdictClean {
		t.Errorf("verdict %s: %+v", tg.Verdict, tg.Findings)
	}
	// The pickle reader reads ahead in buffers: a few hundred KiB per pickle,
	// whatever the size of the storages after them.
	if n := f.read.Load(); n > 4<<20 {
		t.Errorf("read %d bytes of a 1 GiB checkpoint", n)
	}
	t.Logf("1 GiB legacy checkpoint: %d bytes read in %v", f.read.Load(), time.Since(start))
}

func TestLegacyMatch(t *testing.T) {
	b := fixture(t, "benign/legacy_state_dict.pt")
	if !(torch.Legacy{}).Match(b[:min(len(b), scan.HeadSize)], int64(len(b))) {
		t.Error("legacy checkpoint not matched")
	}
	// A pickle that computes the magic number (pytorch_magic_bypass) is a
	// plain pickle, scanned as such.
	if (torch.Legacy{}).Match([]byte("\x80\x02c__builtin__\neval\n"), 20) {
		t.Error("matched a pickle without the magic number")
	}
}

func TestTorchScriptPickles(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, c := range []struct {
		file string
		want scan.Verdict
	}{
		{"benign/torchscript.pt", scan.VerdictClean},
		{"malicious/torchscript_reduce.pt", scan.VerdictDangerous},
	} {
		b := fixture(t, c.file)
		tg := sc.ScanReaderAt(context.Background(), c.file, bytes.NewReader(b), int64(len(b)))
		if tg.Format != "torchscript" || tg.Verdict != c.want {
			t.Errorf("%s: format %s verdict %s: %+v", c.file, tg.Format, tg.Verdict, tg.Findings)
		}
	}
}

func FuzzLegacy(f *testing.F) {
	f.Add(fixture(f, "benign/legacy_state_dict.pt"))
	f.Add(fixture(f, "malicious/torch_legacy_reduce.pt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sc := scan.MustNew(scan.Options{Formats: all.Formats()})
		sc.ScanReaderAt(ctx, "f", bytes.NewReader(b), int64(len(b)))
	})
}

// FuzzTorchScriptPickle fuzzes the TorchScript pickle walker through a
// TorchScript archive whose constants.pkl is the input.
func FuzzTorchScriptPickle(f *testing.F) {
	f.Add([]byte("\x80\x02c__torch__.m\nC\nq\x00)\x81q\x01."))
	f.Add([]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93."))
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, m := range []struct {
			name string
			data []byte
		}{{"archive/data.pkl", []byte("\x80\x02}q\x00.")}, {"archive/constants.pkl", b}} {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Store})
			w.Write(m.data)
		}
		zw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sc := scan.MustNew(scan.Options{Formats: all.Formats()})
		tg := sc.ScanReaderAt(ctx, "f", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if tg.Format != "torchscript" {
			t.Fatalf("format %s", tg.Format)
		}
	})
}

// sparseFile is an io.ReaderAt over pieces that are either bytes or runs of
// zeros that are never stored, and counts the bytes read.
type sparseFile struct {
	pieces []piece
	size   int64
	read   atomic.Int64
}

type piece struct {
	off   int64
	data  []byte
	zeros int64
}

func (f *sparseFile) add(data []byte, zeros int64) {
	f.pieces = append(f.pieces, piece{off: f.size, data: data, zeros: zeros})
	f.size += int64(len(data)) + zeros
}

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	clear(p[:n])
	for _, pc := range f.pieces {
		end := pc.off + int64(len(pc.data))
		if len(pc.data) == 0 || end <= off || pc.off >= off+int64(n) {
			continue
		}
		lo := max(off, pc.off)
		hi := min(end, off+int64(n))
		copy(p[lo-off:hi-off], pc.data[lo-pc.off:hi-pc.off])
	}
	f.read.Add(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// sparseCheckpoint rebuilds a real torch.save zip with its first storage
// grown to storage bytes of zeros that are never held in memory.
func sparseCheckpoint(t *testing.T, real []byte, storage int64) *sparseFile {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(real), int64(len(real)))
	if err != nil {
		t.Fatal(err)
	}
	f := &sparseFile{}
	var cd bytes.Buffer
	le := func(b []byte, vals ...any) []byte {
		for _, v := range vals {
			switch v := v.(type) {
			case uint16:
				b = append(b, byte(v), byte(v>>8))
			case uint32:
				b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
			}
		}
		return b
	}
	for _, m := range zr.File {
		rc, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		crc, size := m.CRC32, int64(len(data))
		big := strings.HasSuffix(m.Name, "/data/0")
		if big {
			crc, size = 0, storage
		}
		off := f.size
		h := le([]byte("PK\x03\x04"), uint16(20), uint16(0), uint16(0), uint16(0), uint16(0),
			crc, uint32(size), uint32(size), uint16(len(m.Name)), uint16(0))
		h = append(h, m.Name...)
		if big {
			f.add(h, size)
		} else {
			f.add(append(h, data...), 0)
		}
		c := le([]byte("PK\x01\x02"), uint16(20), uint16(20), uint16(0), uint16(0), uint16(0), uint16(0),
			crc, uint32(size), uint32(size), uint16(len(m.Name)), uint16(0), uint16(0), uint16(0), uint16(0),
			uint32(0), uint32(off))
		cd.Write(append(c, m.Name...))
	}
	cdOff := f.size
	end := le([]byte("PK\x05\x06"), uint16(0), uint16(0), uint16(len(zr.File)), uint16(len(zr.File)),
		uint32(cd.Len()), uint32(cdOff), uint16(0))
	f.add(append(cd.Bytes(), end...), 0)
	return f
}

// A zip checkpoint costs what its pickle costs: the storages, which
// torch.load reads as raw bytes, are not read beyond their first bytes.
func TestZipCheckpointReadsOnlyThePickles(t *testing.T) {
	f := sparseCheckpoint(t, fixture(t, "benign/state_dict.pt"), 3<<30)
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	start := time.Now()
	tg := sc.ScanReaderAt(context.Background(), "big.pt", f, f.size)
	if tg.Verdict != scan.VerdictClean || tg.Format != "pytorch-zip" {
		t.Errorf("format %s, verdict %s: %+v", tg.Format, tg.Verdict, tg.Findings)
	}
	if n := f.read.Load(); n > 1<<20 {
		t.Errorf("read %d bytes of a %d-byte checkpoint", n, f.size)
	}
	t.Logf("%.1f GiB zip checkpoint: %d bytes read in %v", float64(f.size)/(1<<30), f.read.Load(), time.Since(start))
}
