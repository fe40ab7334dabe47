package scan

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// spoolMemory is how much of a stream spool keeps in memory before it moves
// to a temporary file.
const spoolMemory = 32 << 20

// spooled is a stream saved so that it can be read at any offset.
type spooled struct {
	io.ReaderAt
	size int64
	file *os.File
}

// Size is the number of bytes spooled.
func (s *spooled) Size() int64 { return s.size }

// Close removes the temporary file, if any.
func (s *spooled) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := s.file.Close()
	return errors.Join(err, os.Remove(name))
}

// spool reads r to the end, in memory up to 32 MiB and in a temporary file
// beyond, charging every byte to the session's expansion budget.
func spool(r io.Reader, s *Session) (*spooled, error) {
	var buf bytes.Buffer
	n, err := copyCharged(&buf, r, spoolMemory, s)
	if err != nil {
		return nil, err
	}
	if n < spoolMemory {
		return &spooled{ReaderAt: bytes.NewReader(buf.Bytes()), size: n}, nil
	}
	f, err := os.CreateTemp("", "modelverify-spool-*")
	if err != nil {
		return nil, err
	}
	sp := &spooled{ReaderAt: f, file: f}
	if _, err := f.Write(buf.Bytes()); err != nil {
		sp.Close()
		return nil, err
	}
	m, err := copyCharged(f, r, -1, s)
	if err != nil {
		sp.Close()
		return nil, err
	}
	sp.size = n + m
	return sp, nil
}

// copyCharged copies up to max bytes (max < 0: all), charging s as it goes.
func copyCharged(w io.Writer, r io.Reader, max int64, s *Session) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for max < 0 || total < max {
		chunk := buf
		if max >= 0 && int64(len(chunk)) > max-total {
			chunk = chunk[:max-total]
		}
		n, err := r.Read(chunk)
		if n > 0 {
			if cerr := s.Charge(int64(n)); cerr != nil {
				return total, cerr
			}
			if _, werr := w.Write(chunk[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
