package compress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// trapReader turns the first error of its reader into io.EOF and keeps it,
// so that what was decompressed before a corrupt or truncated block is still
// scanned (a loader would have run it), and the error is reported after.
type trapReader struct {
	r   io.Reader
	err error
}

func (t *trapReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
		return n, io.EOF
	}
	return n, err
}

// Decompress hands the decompressed stream out to the dispatcher as member,
// with the ratio limit applied against the compressed bytes counted by in.
// A decompression error is reported as malformed after whatever was read
// before it has been scanned.
func Decompress(ctx context.Context, s *scan.Session, member string, out io.Reader, in *CountingReader) (scan.NestedResult, error) {
	t := &trapReader{r: NewRatioReader(out, in, s)}
	res, err := s.NestedStream(ctx, member, t)
	if err != nil {
		return res, err
	}
	if t.err != nil {
		res.Complete = false
		e := t.err
		if !errors.Is(e, scan.ErrLimit) && !errors.Is(e, scan.ErrMalformed) {
			e = fmt.Errorf("%w: %s: %v", scan.ErrMalformed, member, e)
		}
		s.ReportError(member, e)
	}
	return res, nil
}

// input returns a counted, buffered reader of r from off to size.
func input(r io.ReaderAt, off, size int64) (*CountingReader, *bufio.Reader) {
	in := &CountingReader{R: io.NewSectionReader(r, off, max(size-off, 0))}
	return in, bufio.NewReaderSize(in, 64<<10)
}

// malformed wraps an error opening a stream.
func malformed(name string, err error) error {
	if errors.Is(err, scan.ErrLimit) || errors.Is(err, scan.ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", scan.ErrMalformed, name, err)
}
