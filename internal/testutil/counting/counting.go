// Package counting wraps readers so that tests can assert how many bytes a
// scanner read, instead of how long it took.
package counting

import (
	"io"
	"sync/atomic"
)

// ReaderAt counts the bytes read through it; it is safe for concurrent use.
type ReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

// NewReaderAt counts the reads of r.
func NewReaderAt(r io.ReaderAt) *ReaderAt { return &ReaderAt{r: r} }

// ReadAt reads from the wrapped reader and counts what it returned.
func (c *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// Read is the number of bytes read so far.
func (c *ReaderAt) Read() int64 { return c.n.Load() }
