package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// PickleZip is a pickle stream that may have a zip archive appended: a
// polyglot that pickle.load reads as a pickle and zipfile (and scanners that
// trust it) as a zip. It scans the pickle, then the zip if there is one.
type PickleZip struct{}

var _ scan.Format = PickleZip{}

// Name implements scan.Format.
func (PickleZip) Name() string { return "pickle" }

// Match implements scan.Format: a pickle of protocol 2 or later.
func (PickleZip) Match(head []byte, size int64) bool {
	return looksPickle(head) && pickle.Format{}.Match(head, size)
}

// Scan implements scan.Format.
func (PickleZip) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	perr := pickle.Format{}.Scan(ctx, s, r, size)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	views, err := endViews(r, size)
	if err != nil {
		return perr
	}
	base := int64(0)
	for _, v := range views {
		if v.Base > 0 && v.Base < size {
			base = v.Base
			break
		}
	}
	if base == 0 {
		return perr
	}
	// The zip may begin before base when its offsets were written for a
	// standalone file; base is where its first record is expected.
	s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Offset: base,
		Message: fmt.Sprintf("a zip archive is appended to the pickle at offset %d (a polyglot): both are scanned", base)})
	if _, err := s.Nested(ctx, "[appended zip]", io.NewSectionReader(r, base, size-base), size-base); err != nil {
		return err
	}
	return perr
}
