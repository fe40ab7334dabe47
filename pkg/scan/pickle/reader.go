package pickle

import (
	"errors"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// bufSize is the read-ahead window. Opcodes and short literals are served
// from it without allocation; longer literals are read straight from the
// source.
const bufSize = 256 << 10

// errTruncated is the pickle ending in the middle of an opcode.
var errTruncated = fmt.Errorf("%w: pickle data was truncated", scan.ErrMalformed)

// reader is a forward-only buffered view of an io.ReaderAt between two
// offsets. It never reads past end, so a hostile length cannot make it read
// or allocate more than the source holds.
type reader struct {
	ra   io.ReaderAt
	end  int64 // absolute end of the readable range
	base int64 // absolute offset of buf[0]
	buf  []byte
	pos  int // next unread byte in buf
	n    int // valid bytes in buf
}

func newReader(ra io.ReaderAt, off, end int64) *reader {
	// Small streams (most pickles inside archives) get a small window.
	n := int64(bufSize)
	if end-off < n {
		n = max(end-off, 16)
	}
	return &reader{ra: ra, end: end, base: off, buf: make([]byte, n)}
}

// offset is the absolute offset of the next unread byte.
func (r *reader) offset() int64 { return r.base + int64(r.pos) }

// remaining is how many bytes are left before end.
func (r *reader) remaining() int64 { return r.end - r.offset() }

// fill makes at least want bytes available in buf, or as many as remain.
func (r *reader) fill(want int) error {
	if r.n-r.pos >= want {
		return nil
	}
	copy(r.buf, r.buf[r.pos:r.n])
	r.base += int64(r.pos)
	r.n -= r.pos
	r.pos = 0
	for r.n < want {
		room := int64(len(r.buf) - r.n)
		if left := r.end - (r.base + int64(r.n)); left < room {
			room = left
		}
		if room <= 0 {
			return errTruncated
		}
		m, err := r.ra.ReadAt(r.buf[r.n:r.n+int(room)], r.base+int64(r.n))
		r.n += m
		if m == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return errTruncated
			}
			return err
		}
	}
	return nil
}

// byte reads one byte.
func (r *reader) byte() (byte, error) {
	if r.pos < r.n {
		b := r.buf[r.pos]
		r.pos++
		return b, nil
	}
	if err := r.fill(1); err != nil {
		return 0, err
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// next returns the next n bytes (n <= bufSize), valid until the next call.
func (r *reader) next(n int) ([]byte, error) {
	if r.n-r.pos < n {
		if err := r.fill(n); err != nil {
			return nil, err
		}
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

// skip advances n bytes without reading them.
func (r *reader) skip(n int64) error {
	if n < 0 || n > r.remaining() {
		return errTruncated
	}
	if avail := int64(r.n - r.pos); n <= avail {
		r.pos += int(n)
		return nil
	}
	r.base = r.offset() + n
	r.pos, r.n = 0, 0
	return nil
}

// line reads up to and including the next '\n' and returns the bytes before
// it, valid until the next call. Lines longer than max fail with a limit
// error; a line missing its '\n' is truncated data.
func (r *reader) line(max int) ([]byte, error) {
	scanned := 0
	for {
		if i := indexNL(r.buf[r.pos+scanned : r.n]); i >= 0 {
			l := r.buf[r.pos : r.pos+scanned+i]
			r.pos += scanned + i + 1
			return l, nil
		}
		scanned = r.n - r.pos
		if scanned > max {
			return nil, &scan.LimitError{Limit: "max-literal", Max: int64(max)}
		}
		if scanned >= len(r.buf) {
			// The line does not fit the window: grow it, bounded by max.
			nb := make([]byte, min(2*len(r.buf), max+len(r.buf)))
			copy(nb, r.buf[r.pos:r.n])
			r.base += int64(r.pos)
			r.n -= r.pos
			r.pos = 0
			r.buf = nb
		}
		if err := r.fill(scanned + 1); err != nil {
			if err == errTruncated && scanned > 0 {
				// The last line of a file has no '\n': CPython's unpickler
				// reading from a file takes it anyway and drops its last byte
				// as if it were the newline.
				l := r.buf[r.pos : r.pos+scanned-1]
				r.pos += scanned
				return l, nil
			}
			return nil, err
		}
	}
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}
