package numpy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// Format is numpy's .npy format, versions 1.0 to 3.0.
type Format struct{}

var _ scan.Format = Format{}

var magic = []byte("\x93NUMPY")

// Name implements scan.Format.
func (Format) Name() string { return "numpy" }

// Match implements scan.Format.
func (Format) Match(head []byte, size int64) bool { return bytes.HasPrefix(head, magic) }

// Header is a parsed .npy header.
type Header struct {
	Major, Minor byte
	// DataOffset is where the array data (or the pickle) starts.
	DataOffset int64
	Descr      string // the dtype, as numpy's descr literal
	Fortran    bool
	Shape      []int64
	// HasObject: the dtype holds Python objects, so the data is a pickle.
	HasObject bool
	// ItemSize is the bytes per element, when HasObject is false.
	ItemSize int64
}

// ReadHeader reads and validates the header of the .npy in r.
func ReadHeader(r io.ReaderAt, size, maxHeader int64) (*Header, error) {
	var pre [12]byte
	if n, _ := r.ReadAt(pre[:], 0); n < 10 || !bytes.HasPrefix(pre[:], magic) {
		return nil, scan.Malformedf("npy: truncated preamble")
	}
	h := &Header{Major: pre[6], Minor: pre[7]}
	var hlen int64
	switch h.Major {
	case 1:
		hlen = int64(binary.LittleEndian.Uint16(pre[8:]))
		h.DataOffset = 10 + hlen
	case 2, 3:
		if size < 12 {
			return nil, scan.Malformedf("npy: truncated preamble")
		}
		hlen = int64(binary.LittleEndian.Uint32(pre[8:]))
		h.DataOffset = 12 + hlen
	default:
		return nil, scan.Malformedf("npy: unknown version %d.%d", h.Major, h.Minor)
	}
	if hlen > maxHeader {
		return nil, &scan.LimitError{Limit: "max-header-bytes", Max: maxHeader}
	}
	if h.DataOffset > size {
		return nil, scan.Malformedf("npy: header length %d runs past the end of the file", hlen)
	}
	buf := make([]byte, hlen)
	if _, err := r.ReadAt(buf, h.DataOffset-hlen); err != nil {
		return nil, scan.Malformedf("npy: header: %v", err)
	}
	v, err := parseLiteral(strings.TrimRight(string(buf), " \n\x00"))
	if err != nil || v.kind != 'd' {
		return nil, scan.Malformedf("npy: header is not a dict literal")
	}
	descr, ok1 := v.get("descr")
	fortran, ok2 := v.get("fortran_order")
	shape, ok3 := v.get("shape")
	if !ok1 || !ok2 || !ok3 || len(v.keys) != 3 {
		return nil, scan.Malformedf("npy: header keys are not descr, fortran_order and shape")
	}
	if fortran.kind != 'b' || shape.kind != 't' {
		return nil, scan.Malformedf("npy: bad fortran_order or shape")
	}
	h.Fortran = fortran.str == "True"
	for _, d := range shape.items {
		if d.kind != 'i' || d.num < 0 {
			return nil, scan.Malformedf("npy: bad shape")
		}
		h.Shape = append(h.Shape, d.num)
	}
	h.ItemSize, h.HasObject, err = dtypeSize(descr, 0)
	if err != nil {
		return nil, err
	}
	if descr.kind == 's' {
		h.Descr = descr.str
	} else {
		h.Descr = "structured"
	}
	return h, nil
}

// dtypeSize returns the item size of a descr and whether it holds objects.
func dtypeSize(d value, depth int) (int64, bool, error) {
	if depth > 8 {
		return 0, false, scan.Malformedf("npy: dtype nests too deep")
	}
	switch d.kind {
	case 's':
		return simpleSize(d.str)
	case 'l': // structured: [(name, descr[, shape]), ...]
		var total int64
		obj := false
		for _, f := range d.items {
			if f.kind != 't' || len(f.items) < 2 || len(f.items) > 3 {
				return 0, false, scan.Malformedf("npy: bad structured dtype field")
			}
			n, o, err := dtypeSize(f.items[1], depth+1)
			if err != nil {
				return 0, false, err
			}
			if len(f.items) == 3 {
				count, err := shapeCount(f.items[2])
				if err != nil {
					return 0, false, err
				}
				n, err = mul(n, count)
				if err != nil {
					return 0, false, err
				}
			}
			obj = obj || o
			if total, err = add(total, n); err != nil {
				return 0, false, err
			}
		}
		return total, obj, nil
	}
	return 0, false, scan.Malformedf("npy: bad dtype")
}

func shapeCount(v value) (int64, error) {
	if v.kind == 'i' {
		if v.num < 0 {
			return 0, scan.Malformedf("npy: bad subarray shape")
		}
		return v.num, nil
	}
	if v.kind != 't' {
		return 0, scan.Malformedf("npy: bad subarray shape")
	}
	n := int64(1)
	for _, d := range v.items {
		if d.kind != 'i' || d.num < 0 {
			return 0, scan.Malformedf("npy: bad subarray shape")
		}
		var err error
		if n, err = mul(n, d.num); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// simpleSize reads a type string such as "<f4", "|O", "<U10", "<M8[ns]".
func simpleSize(s string) (int64, bool, error) {
	if s == "" {
		return 0, false, scan.Malformedf("npy: empty dtype")
	}
	if strings.IndexByte("<>|=", s[0]) >= 0 {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '['); i >= 0 && strings.HasSuffix(s, "]") {
		s = s[:i] // datetime unit
	}
	if s == "" {
		return 0, false, scan.Malformedf("npy: bad dtype")
	}
	kind, num := s[0], s[1:]
	if kind == 'O' {
		return 8, true, nil
	}
	if strings.IndexByte("biufcSUVmMa?", kind) < 0 {
		return 0, false, scan.Malformedf("npy: unknown dtype %q", s)
	}
	if kind == '?' && num == "" {
		return 1, false, nil
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false, scan.Malformedf("npy: bad dtype %q", s)
	}
	if kind == 'U' {
		n, err = mul(n, 4)
	}
	return n, false, err
}

func mul(a, b int64) (int64, error) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<62 {
		return 0, scan.Malformedf("npy: array size overflows")
	}
	return int64(lo), nil
}

func add(a, b int64) (int64, error) {
	if a+b < a || a+b > 1<<62 {
		return 0, scan.Malformedf("npy: array size overflows")
	}
	return a + b, nil
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	h, err := ReadHeader(r, size, s.Limits().MaxHeaderBytes)
	if err != nil {
		return err
	}
	if h.HasObject {
		// numpy.load(allow_pickle=True) unpickles the rest of the file.
		return pickle.Format{}.Scan(ctx, s, io.NewSectionReader(r, h.DataOffset, size-h.DataOffset), size-h.DataOffset)
	}
	n := int64(1)
	for _, d := range h.Shape {
		if n, err = mul(n, d); err != nil {
			return err
		}
	}
	want, err := mul(n, h.ItemSize)
	if err != nil {
		return err
	}
	have := size - h.DataOffset
	switch {
	case have < want:
		return scan.Malformedf("npy: %d data bytes, shape and dtype need %d", have, want)
	case have > want:
		s.Report(scan.Finding{RuleID: scan.RuleTrailingData, Severity: scan.SeverityLow, Offset: h.DataOffset + want,
			Message: fmt.Sprintf("%d bytes after the array data, which numpy.load ignores", have-want)})
	}
	return nil
}
