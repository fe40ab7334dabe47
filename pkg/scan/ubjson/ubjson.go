// Package ubjson validates Universal Binary JSON documents, the binary model
// format of XGBoost (Booster.save_model("model.ubj")). UBJSON holds only
// numbers, strings, arrays and objects: nothing in it names code, so a
// document that parses completely is clean, and one that does not is
// malformed.
package ubjson

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// MaxDepth bounds the nesting of arrays and objects. XGBoost's models nest
// about eight deep.
const MaxDepth = 256

// Format recognises a UBJSON object at the start of the content.
type Format struct{}

// Name implements scan.Format.
func (Format) Name() string { return "ubjson" }

// Match implements scan.Format: an object whose first key has an integer
// length marker and printable bytes, or an empty or counted object.
func (Format) Match(head []byte, size int64) bool {
	if len(head) < 2 || head[0] != '{' {
		return false
	}
	switch head[1] {
	case '}':
		return size == 2
	case '$':
		return len(head) >= 3
	case '#':
		_, w := intAt(head[2:])
		return w > 0
	}
	n, w := intAt(head[1:])
	if w == 0 || n <= 0 || n > 256 || 1+w+int(n) > len(head) {
		return false
	}
	for _, c := range head[1+w : 1+w+int(n)] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// intAt decodes an integer marker and its value from b; w is 0 when b does
// not start with a complete one.
func intAt(b []byte) (n int64, w int) {
	if len(b) < 1 {
		return 0, 0
	}
	sz := map[byte]int{'i': 1, 'U': 1, 'I': 2, 'l': 4, 'L': 8}[b[0]]
	if sz == 0 || len(b) < 1+sz {
		return 0, 0
	}
	return decodeInt(b[0], b[1:1+sz]), 1 + sz
}

func decodeInt(m byte, b []byte) int64 {
	switch m {
	case 'i':
		return int64(int8(b[0]))
	case 'U':
		return int64(b[0])
	case 'I':
		return int64(int16(binary.BigEndian.Uint16(b)))
	case 'l':
		return int64(int32(binary.BigEndian.Uint32(b)))
	default:
		return int64(binary.BigEndian.Uint64(b))
	}
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return Validate(ctx, r, size)
}

// Validate reads one UBJSON value covering the whole content.
func Validate(ctx context.Context, r io.ReaderAt, size int64) error {
	p := &parser{ctx: ctx, r: bufio.NewReader(io.NewSectionReader(r, 0, size)), left: size}
	if err := p.value(0, 0); err != nil {
		return err
	}
	if p.left != 0 {
		return scan.Malformedf("ubjson: %d bytes after the document", p.left)
	}
	return nil
}

type parser struct {
	ctx  context.Context
	r    *bufio.Reader
	left int64 // bytes not yet read
	n    int   // values read, for cancellation checks
}

func (p *parser) byte() (byte, error) {
	if p.left < 1 {
		return 0, scan.Malformedf("ubjson: truncated")
	}
	c, err := p.r.ReadByte()
	if err != nil {
		return 0, scan.Malformedf("ubjson: %v", err)
	}
	p.left--
	return c, nil
}

func (p *parser) skip(n int64) error {
	if n < 0 || n > p.left {
		return scan.Malformedf("ubjson: a length of %d runs past the end (%d bytes left)", n, p.left)
	}
	if _, err := p.r.Discard(int(n)); err != nil {
		return scan.Malformedf("ubjson: %v", err)
	}
	p.left -= n
	return nil
}

var fixed = map[byte]int64{'Z': 0, 'N': 0, 'T': 0, 'F': 0, 'i': 1, 'U': 1, 'C': 1, 'I': 2, 'l': 4, 'd': 4, 'L': 8, 'D': 8}

// length reads an integer (marker and value) that must not be negative.
func (p *parser) length() (int64, error) {
	m, err := p.byte()
	if err != nil {
		return 0, err
	}
	sz, ok := fixed[m]
	if !ok || sz == 0 || m == 'C' || m == 'd' || m == 'D' {
		return 0, scan.Malformedf("ubjson: %q is not an integer marker", m)
	}
	if sz > p.left {
		return 0, scan.Malformedf("ubjson: truncated")
	}
	var b [8]byte
	if _, err := io.ReadFull(p.r, b[:sz]); err != nil {
		return 0, scan.Malformedf("ubjson: %v", err)
	}
	p.left -= sz
	n := decodeInt(m, b[:sz])
	if n < 0 {
		return 0, scan.Malformedf("ubjson: negative length %d", n)
	}
	return n, nil
}

// value reads one value; m is its marker, or 0 to read the marker first.
func (p *parser) value(m byte, depth int) error {
	if p.n++; p.n%4096 == 0 {
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
	var err error
	if m == 0 {
		for m == 0 || m == 'N' { // no-op markers may precede a value
			if m, err = p.byte(); err != nil {
				return err
			}
		}
	}
	if sz, ok := fixed[m]; ok {
		return p.skip(sz)
	}
	switch m {
	case 'S', 'H':
		n, err := p.length()
		if err != nil {
			return err
		}
		return p.skip(n)
	case '[', '{':
		if depth >= MaxDepth {
			return &scan.LimitError{Limit: "ubjson-depth", Max: MaxDepth}
		}
		return p.container(m == '{', depth+1)
	}
	return scan.Malformedf("ubjson: unknown marker %q", m)
}

func (p *parser) container(object bool, depth int) error {
	end := byte(']')
	if object {
		end = '}'
	}
	c, err := p.byte()
	if err != nil {
		return err
	}
	var typ byte
	if c == '$' {
		if typ, err = p.byte(); err != nil {
			return err
		}
		if c, err = p.byte(); err != nil {
			return err
		}
		if c != '#' {
			return scan.Malformedf("ubjson: a typed container without a count")
		}
	}
	if c == '#' {
		count, err := p.length()
		if err != nil {
			return err
		}
		if sz, ok := fixed[typ]; ok && sz == 0 && !object {
			return nil // an array of markers without payload: nothing to read
		}
		// Every element below reads at least one byte, so the count is
		// bounded by what is left of the content.
		for i := int64(0); i < count; i++ {
			if object {
				if err := p.key(); err != nil {
					return err
				}
			}
			if err := p.value(typ, depth); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		for c == 'N' {
			if c, err = p.byte(); err != nil {
				return err
			}
		}
		if c == end {
			return nil
		}
		if object {
			if err := p.keyAfter(c); err != nil {
				return err
			}
			c = 0
		}
		if err := p.value(c, depth); err != nil {
			return err
		}
		if c, err = p.byte(); err != nil {
			return err
		}
	}
}

// key reads an object key: a length and bytes, without an 'S' marker.
func (p *parser) key() error {
	m, err := p.byte()
	if err != nil {
		return err
	}
	return p.keyAfter(m)
}

func (p *parser) keyAfter(m byte) error {
	sz, ok := fixed[m]
	if !ok || sz == 0 || m == 'C' || m == 'd' || m == 'D' {
		return scan.Malformedf("ubjson: object key starts with %q, not a length", m)
	}
	var b [8]byte
	if sz > p.left {
		return scan.Malformedf("ubjson: truncated")
	}
	if _, err := io.ReadFull(p.r, b[:sz]); err != nil {
		return scan.Malformedf("ubjson: %v", err)
	}
	p.left -= sz
	n := decodeInt(m, b[:sz])
	if n < 0 {
		return scan.Malformedf("ubjson: negative key length %d", n)
	}
	return p.skip(n)
}
