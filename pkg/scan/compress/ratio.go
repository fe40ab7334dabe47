package compress

import (
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// ratioFloor is how many bytes a stream may produce before its ratio is
// checked: tiny pickles of zeros legitimately compress 100:1 and more.
const ratioFloor = 1 << 20

// CountingReader counts the bytes read through it.
type CountingReader struct {
	R io.Reader
	N int64
}

// Read implements io.Reader.
func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// RatioReader fails with a max-ratio LimitError as soon as the bytes read
// from it exceed maxRatio times the bytes its decompressor consumed from In
// (once past 1 MiB). It acts while streaming, so a bomb is stopped after a
// few megabytes whatever sizes its headers declare.
type RatioReader struct {
	R        io.Reader
	In       *CountingReader
	MaxRatio int64
	out      int64
}

// NewRatioReader wraps the decompressor out, whose compressed input is
// counted by in, with the session's ratio limit.
func NewRatioReader(out io.Reader, in *CountingReader, s *scan.Session) *RatioReader {
	return &RatioReader{R: out, In: in, MaxRatio: s.Limits().MaxRatio}
}

// Read implements io.Reader.
func (r *RatioReader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.out += int64(n)
	if r.out > ratioFloor && r.out > r.MaxRatio*max(r.In.N, 1) {
		return n, &scan.LimitError{Limit: "max-ratio", Max: r.MaxRatio}
	}
	return n, err
}

// Out is the number of decompressed bytes read so far.
func (r *RatioReader) Out() int64 { return r.out }
