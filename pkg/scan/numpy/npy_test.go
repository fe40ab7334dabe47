package numpy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/numpy"
)

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "containers", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// npy builds a version 1.0 .npy with the given header literal and data.
func npy(header string, data []byte) []byte {
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(header)))
	return append(append(b, header...), data...)
}

func TestReadHeader(t *testing.T) {
	cases := []struct {
		name      string
		header    string
		itemSize  int64
		hasObject bool
		shape     []int64
		bad       bool
	}{
		{"a float32 matrix", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 4, false, []int64{3, 4}, false},
		{"a scalar", "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", 8, false, nil, false},
		{"unicode strings", "{'descr': '<U10', 'fortran_order': True, 'shape': (2,), }", 40, false, []int64{2}, false},
		{"a datetime", "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }", 8, false, []int64{1}, false},
		{"objects", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 8, true, []int64{2}, false},
		{"a structured dtype with a subarray", "{'descr': [('a', '<i4'), ('b', '<f8', (2,))], 'fortran_order': False, 'shape': (3,), }", 20, false, []int64{3}, false},
		{"objects inside a structured dtype", "{'descr': [('a', '<i4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }", 12, true, []int64{1}, false},
		{"a call instead of a literal", "{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,), }", 0, false, nil, true},
		{"an extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 0, false, nil, true},
		{"a negative dimension", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 0, false, nil, true},
		{"an unknown type", "{'descr': '<z4', 'fortran_order': False, 'shape': (1,), }", 0, false, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := npy(c.header, nil)
			h, err := numpy.ReadHeader(bytes.NewReader(b), int64(len(b)), 1<<20)
			if c.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.ItemSize != c.itemSize || h.HasObject != c.hasObject || len(h.Shape) != len(c.shape) {
				t.Errorf("got %+v", h)
			}
		})
	}
}

func TestScan(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want scan.Verdict
	}{
		{"a plain array from numpy", fixture(t, "benign/plain.npy"), scan.VerdictClean},
		{"a structured array from numpy", fixture(t, "benign/structured.npy"), scan.VerdictClean},
		{"an object array from numpy", fixture(t, "benign/object.npy"), scan.VerdictClean},
		{"an object array with a payload", fixture(t, "malicious/object_reduce.npy"), scan.VerdictDangerous},
		{"an npz with a payload", fixture(t, "malicious/object_reduce.npz"), scan.VerdictDangerous},
		{"a compressed npz with a payload", fixture(t, "malicious/object_reduce_compressed.npz"), scan.VerdictDangerous},
		{"a truncated array", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", make([]byte, 31)), scan.VerdictMalformed},
		{"a header longer than the file", []byte("\x93NUMPY\x01\x00\xff\xff{'descr'"), scan.VerdictMalformed},
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := sc.ScanReaderAt(context.Background(), "t", bytes.NewReader(c.data), int64(len(c.data)))
			if tg.Verdict != c.want {
				t.Errorf("verdict %s, want %s: %+v", tg.Verdict, c.want, tg.Findings)
			}
		})
	}
}

func TestTrailingBytesAreReported(t *testing.T) {
	b := npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4+10))
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "t", bytes.NewReader(b), int64(len(b)))
	if len(tg.Findings) != 1 || tg.Findings[0].RuleID != scan.RuleTrailingData {
		t.Errorf("findings %+v", tg.Findings)
	}
}

func FuzzNpy(f *testing.F) {
	for _, n := range []string{"benign/plain.npy", "benign/structured.npy", "benign/object.npy", "malicious/object_reduce.npy"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		numpy.ReadHeader(bytes.NewReader(b), int64(len(b)), 1<<20)
		sc := scan.MustNew(scan.Options{Formats: all.Formats()})
		sc.ScanReaderAt(ctx, "f", bytes.NewReader(b), int64(len(b)))
	})
}
