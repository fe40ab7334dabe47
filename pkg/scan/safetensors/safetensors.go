// Package safetensors validates safetensors files. The format cannot run
// code, but a header that lies about sizes or offsets is how parser
// differentials and out-of-bounds reads start, so the header is checked
// against the format's rules: an 8-byte little-endian length within bounds
// and within the file, a JSON object, known dtypes, each tensor's byte range
// equal to its shape times its dtype size, ranges inside the data section
// that cover it without gaps or overlaps, and __metadata__ mapping strings to
// strings.
package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"unicode/utf8"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Format is the safetensors format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "safetensors" }

// Match implements scan.Format: a length, then a JSON object. The length is
// not checked here so that a header that lies about it is reported as a
// malformed safetensors file rather than passed on.
func (Format) Match(head []byte, size int64) bool {
	if len(head) < 10 || head[8] != '{' {
		return false
	}
	// Lengths above 2^48 are not a safetensors file whose length lies, but
	// something else whose ninth byte is '{'.
	return binary.LittleEndian.Uint64(head) < 1<<48
}

// bitsOf is each dtype's size in bits.
var bitsOf = map[string]int64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// ErrHeader is wrapped by every header violation; it wraps scan.ErrMalformed.
var ErrHeader = fmt.Errorf("%w: safetensors header", scan.ErrMalformed)

type tensorInfo struct {
	Dtype       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	err := Validate(r, size, s.Limits().MaxHeaderBytes)
	if err != nil && errors.Is(err, ErrHeader) {
		s.Report(scan.Finding{RuleID: scan.RuleSafetensors, Severity: scan.SeverityMedium, Offset: 0, Message: err.Error()})
	}
	return err
}

// Validate checks the safetensors file in r against the format's rules. It
// returns an error wrapping ErrHeader for a header that breaks them, or a
// *scan.LimitError for one larger than maxHeader.
func Validate(r io.ReaderAt, size, maxHeader int64) error {
	var lb [8]byte
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > uint64(maxHeader) {
		if n <= uint64(size) {
			return &scan.LimitError{Limit: "max-header-bytes", Max: maxHeader}
		}
		return fmt.Errorf("%w: length %d runs past the end of the %d-byte file", ErrHeader, n, size)
	}
	if int64(n) > size-8 {
		return fmt.Errorf("%w: length %d runs past the end of the %d-byte file", ErrHeader, n, size)
	}
	if n < 2 {
		return fmt.Errorf("%w: length %d is too small", ErrHeader, n)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	if !utf8.Valid(hdr) {
		return fmt.Errorf("%w: not UTF-8", ErrHeader)
	}
	// Writers may pad the header with trailing spaces.
	trimmed := bytes.TrimRight(hdr, " ")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrHeader)
	}
	entries, err := objectEntries(trimmed)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	dataLen := size - 8 - int64(n)
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for _, e := range entries {
		if e.key == "__metadata__" {
			var md map[string]string
			if err := json.Unmarshal(e.raw, &md); err != nil {
				return fmt.Errorf("%w: __metadata__ must map strings to strings", ErrHeader)
			}
			continue
		}
		var ti tensorInfo
		dec := json.NewDecoder(bytes.NewReader(e.raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ti); err != nil {
			return fmt.Errorf("%w: tensor %q: %v", ErrHeader, e.key, err)
		}
		b, ok := bitsOf[ti.Dtype]
		if !ok {
			return fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrHeader, e.key, ti.Dtype)
		}
		if ti.Shape == nil || len(ti.DataOffsets) != 2 {
			return fmt.Errorf("%w: tensor %q: shape and two data_offsets are required", ErrHeader, e.key)
		}
		numel := uint64(1)
		for _, d := range ti.Shape {
			if d < 0 {
				return fmt.Errorf("%w: tensor %q: negative dimension", ErrHeader, e.key)
			}
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > 1<<62 {
				return fmt.Errorf("%w: tensor %q: shape overflows", ErrHeader, e.key)
			}
			numel = lo
		}
		hi, nbits := bits.Mul64(numel, uint64(b))
		if hi != 0 || nbits%8 != 0 {
			return fmt.Errorf("%w: tensor %q: %d elements of %s are not a whole number of bytes", ErrHeader, e.key, numel, ti.Dtype)
		}
		begin, end := ti.DataOffsets[0], ti.DataOffsets[1]
		if begin < 0 || end < begin {
			return fmt.Errorf("%w: tensor %q: bad data_offsets [%d, %d]", ErrHeader, e.key, begin, end)
		}
		if uint64(end-begin) != nbits/8 {
			return fmt.Errorf("%w: tensor %q: %s %v needs %d bytes, data_offsets give %d", ErrHeader, e.key, ti.Dtype, ti.Shape, nbits/8, end-begin)
		}
		if end > dataLen {
			return fmt.Errorf("%w: tensor %q: data_offsets end %d is past the %d-byte data section", ErrHeader, e.key, end, dataLen)
		}
		spans = append(spans, span{e.key, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var pos int64
	for _, sp := range spans {
		switch {
		case sp.begin < pos:
			return fmt.Errorf("%w: tensor %q overlaps the tensor before it", ErrHeader, sp.name)
		case sp.begin > pos:
			return fmt.Errorf("%w: %d unused bytes before tensor %q", ErrHeader, sp.begin-pos, sp.name)
		}
		pos = sp.end
	}
	if pos != dataLen {
		return fmt.Errorf("%w: tensors cover %d of the %d data bytes", ErrHeader, pos, dataLen)
	}
	return nil
}

type entry struct {
	key string
	raw json.RawMessage
}

// objectEntries reads a JSON object's members in order, rejecting duplicate
// keys (readers disagree on which one wins).
func objectEntries(b []byte) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	var out []entry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, entry{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}
