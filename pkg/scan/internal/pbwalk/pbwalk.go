// Package pbwalk reads protobuf messages in place, from an io.ReaderAt,
// without generated code and without loading a message into memory: a
// length-delimited field is handed to the caller as an offset and a length,
// so that a 2 GB ONNX initializer is skipped, not read. It is the wire-level
// reader that the ONNX and TensorFlow scanners share.
package pbwalk

import (
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Field is one field of a message. For varint, fixed32 and fixed64 fields
// Value holds the value; for length-delimited fields Off and Len locate the
// payload in the underlying reader.
type Field struct {
	Num   protowire.Number
	Type  protowire.Type
	Value uint64
	Off   int64
	Len   int64
	// At is the offset of the field's tag.
	At int64
}

// Reader walks messages of one underlying reader. It caches a window of the
// input, so that walking many small fields costs few reads. A Reader is not
// safe for concurrent use.
type Reader struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
}

const window = 64 << 10

// NewReader returns a Reader over size bytes of r.
func NewReader(r io.ReaderAt, size int64) *Reader {
	return &Reader{r: r, size: size}
}

// Size is the size of the underlying input.
func (r *Reader) Size() int64 { return r.size }

// at returns the cached bytes from off, at least min(need, size-off) long.
func (r *Reader) at(off int64, need int) ([]byte, error) {
	if off >= r.bufOff && off+int64(need) <= r.bufOff+int64(len(r.buf)) {
		return r.buf[off-r.bufOff:], nil
	}
	n := int64(window)
	if off+n > r.size {
		n = r.size - off
	}
	if n < 0 {
		n = 0
	}
	if cap(r.buf) < window {
		r.buf = make([]byte, window)
	}
	r.buf = r.buf[:n]
	m, err := r.r.ReadAt(r.buf, off)
	if m < int(n) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		r.buf = r.buf[:0]
		return nil, fmt.Errorf("read at offset %d: %w", off, err)
	}
	r.bufOff = off
	return r.buf, nil
}

// Walk calls fn for every field of the message in [off, off+length). A
// malformed tag or a length that runs past the message is an error wrapping
// scan.ErrMalformed.
func (r *Reader) Walk(off, length int64, fn func(Field) error) error {
	end := off + length
	if off < 0 || length < 0 || end > r.size {
		return scan.Malformedf("protobuf: message [%d, +%d) outside the %d-byte input", off, length, r.size)
	}
	pos := off
	for pos < end {
		b, err := r.at(pos, int(min(end-pos, 32)))
		if err != nil {
			return err
		}
		if int64(len(b)) > end-pos {
			b = b[:end-pos]
		}
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return scan.Malformedf("protobuf: bad tag at offset %d: %v", pos, protowire.ParseError(n))
		}
		f := Field{Num: num, Type: typ, At: pos}
		b = b[n:]
		pos += int64(n)
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return scan.Malformedf("protobuf: bad varint at offset %d", pos)
			}
			f.Value = v
			pos += int64(m)
		case protowire.Fixed32Type:
			v, m := protowire.ConsumeFixed32(b)
			if m < 0 {
				return scan.Malformedf("protobuf: truncated fixed32 at offset %d", pos)
			}
			f.Value = uint64(v)
			pos += int64(m)
		case protowire.Fixed64Type:
			v, m := protowire.ConsumeFixed64(b)
			if m < 0 {
				return scan.Malformedf("protobuf: truncated fixed64 at offset %d", pos)
			}
			f.Value = v
			pos += int64(m)
		case protowire.BytesType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return scan.Malformedf("protobuf: bad length at offset %d", pos)
			}
			pos += int64(m)
			if v > uint64(end-pos) {
				return scan.Malformedf("protobuf: field %d at offset %d declares %d bytes, %d left in its message", num, f.At, v, end-pos)
			}
			f.Off, f.Len = pos, int64(v)
			pos += int64(v)
		default:
			return scan.Malformedf("protobuf: unsupported wire type %d at offset %d", typ, f.At)
		}
		if pos > end {
			return scan.Malformedf("protobuf: field %d at offset %d runs past its message", num, f.At)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Bytes reads a length-delimited field's payload, refusing payloads longer
// than max (a *scan.LimitError naming limit).
func (r *Reader) Bytes(f Field, max int64, limit string) ([]byte, error) {
	if f.Type != protowire.BytesType {
		return nil, scan.Malformedf("protobuf: field %d at offset %d has wire type %d, want bytes", f.Num, f.At, f.Type)
	}
	if f.Len > max {
		return nil, &scan.LimitError{Limit: limit, Max: max}
	}
	b := make([]byte, f.Len)
	if n, err := r.r.ReadAt(b, f.Off); n < len(b) {
		if err == nil || err == io.EOF {
			return nil, scan.Malformedf("protobuf: field %d at offset %d truncated", f.Num, f.At)
		}
		return nil, fmt.Errorf("read at offset %d: %w", f.Off, err)
	}
	return b, nil
}

// String reads a length-delimited field as a string of at most max bytes.
func (r *Reader) String(f Field, max int64, limit string) (string, error) {
	b, err := r.Bytes(f, max, limit)
	return string(b), err
}
