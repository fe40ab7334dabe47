package archive

import (
	"bytes"
	"context"
	"io"

	"github.com/bodgit/sevenzip"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/compress"
)

// SevenZip is a 7z archive.
type SevenZip struct{}

var _ scan.Format = SevenZip{}

// Name implements scan.Format.
func (SevenZip) Name() string { return "7z" }

// Match implements scan.Format.
func (SevenZip) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c})
}

// Scan implements scan.Format.
func (SevenZip) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) (err error) {
	// The 7z decoders are a third-party parser of hostile input: a panic in
	// them is this file's problem, not the scan's.
	defer func() {
		if p := recover(); p != nil {
			err = scan.Malformedf("7z: decoder failed: %v", p)
		}
	}()
	if err := checkSevenZipHeader(r, size, s.Limits()); err != nil {
		return err
	}
	zr, err := sevenzip.NewReader(r, size)
	if err != nil {
		return scan.Malformedf("7z: %v", err)
	}
	lim := s.Limits()
	if len(zr.File) > lim.MaxEntries {
		return &scan.LimitError{Limit: "max-entries", Max: int64(lim.MaxEntries)}
	}
	// Solid blocks hide per-member compressed sizes: the ratio is checked
	// for the archive as a whole.
	in := &compress.CountingReader{N: size}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			s.ReportError(f.Name, scan.Malformedf("7z: %s: %v", f.Name, err))
			continue
		}
		_, err = compress.Decompress(ctx, s, f.Name, rc, in)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
