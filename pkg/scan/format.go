package scan

import (
	"context"
	"io"
)

// HeadSize is how many leading bytes the dispatcher gives Format.Match.
// 1 KiB covers every magic number we sniff, including tar's at offset 257.
const HeadSize = 1024

// Format recognises and scans one kind of content. Implementations are
// stateless and safe for concurrent use.
type Format interface {
	// Name is the format as reports show it, e.g. "pickle" or "safetensors".
	Name() string
	// Match is the cheap "is this mine?" check. head holds the first
	// min(size, HeadSize) bytes. It must not do heavy work.
	Match(head []byte, size int64) bool
	// Scan analyses the content, reports findings through s, and returns an
	// error wrapping ErrMalformed, ErrLimit or ErrUnsupported when it could not
	// read the content completely. Findings reported before an error stand.
	Scan(ctx context.Context, s *Session, r io.ReaderAt, size int64) error
}

// NestedResult summarises what the dispatcher found in nested content.
type NestedResult struct {
	// Format is the format that scanned the content, "" if none matched.
	Format string
	// MaxSeverity is the highest severity reported inside, valid when
	// Findings > 0.
	MaxSeverity Severity
	Findings    int
	// Complete is false when the content could not be analysed completely
	// (malformed, a limit hit).
	Complete bool
}

// Dangerous reports whether the nested content holds a finding at or above
// the scan's fail-on severity, or could not be analysed completely. Callers
// that decide whether a nested load is safe use it: what cannot be read
// cannot be trusted.
func (n NestedResult) Dangerous(failOn Severity) bool {
	return !n.Complete || (n.Findings > 0 && n.MaxSeverity >= failOn)
}
