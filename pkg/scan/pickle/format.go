package pickle

import (
	"context"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Format is the bare pickle stream format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "pickle" }

// Match implements scan.Format.
func (Format) Match(head []byte, size int64) bool { return size > 0 }

// Scan implements scan.Format: it scans every pickle in the stream, one after
// another as a loader calling load() repeatedly would, and whatever follows.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return nil
}

// Result describes one pickle scanned by ScanOne.
type Result struct {
	// End is the offset just past the pickle's STOP opcode.
	End int64
	// Top is the value the pickle returns, as far as it can be known
	// statically.
	Top Value
}

// ScanOne scans the single pickle that starts at off, reporting findings to
// s, and returns where it ended. Container formats use it for streams that mix
// pickles with other data (PyTorch legacy files).
func ScanOne(ctx context.Context, s *scan.Session, r io.ReaderAt, off, size int64) (Result, error) {
	return Result{}, nil
}
