package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"
)

// Session carries the state of one target's scan into format scanners: where
// in the target they are (member path, nesting depth), the limits and policy,
// the shared expansion budget, and the findings collected so far. A Session
// is safe for concurrent use by formats that scan members in parallel.
type Session struct {
	sc     *Scanner
	member string
	depth  int
	st     *targetState
	// dir is the directory of the file on disk, for top-level files only.
	dir string
}

type targetState struct {
	path     string // the target's path as reports show it
	dir      string // the directory that holds the target on disk, "" for none
	mu       sync.Mutex
	findings []Finding
	format   string
	expanded int64
}

// Limits returns the scan's limits with defaults applied.
func (s *Session) Limits() Limits { return s.sc.limits }

// Policy returns the user's policy, nil when there is none.
func (s *Session) Policy() *Policy { return s.sc.opts.Policy }

// FailOn is the severity at or above which a finding makes a target dangerous.
func (s *Session) FailOn() Severity { return s.sc.failOn }

// Member is the path of the content being scanned inside its target, "" at
// the top.
func (s *Session) Member() string { return s.member }

// Path is the path of the content being scanned as reports show it: the
// target's path, then the member path inside it. Policies that name files
// (allowCode) match it.
func (s *Session) Path() string { return joinMember(s.st.path, s.member) }

// Dir is the directory that holds the target on disk, set only for a
// top-level file scanned by ScanFile; "" for nested content, readers and
// OCI layers. Formats that resolve references to sibling files (ONNX
// external data) use it; with "" they judge the reference by its text alone.
func (s *Session) Dir() string { return s.dir }

// TargetDir is the directory that holds the target on disk, for its
// nested content too (the config.json member of a .keras archive resolves
// modules against the folder of the archive); "" as for Dir. Formats that
// use it must decide how deep a reference may sit and still be resolved
// there.
func (s *Session) TargetDir() string { return s.st.dir }

// TargetPath is the target's path as reports show it, without the member
// path (see Path).
func (s *Session) TargetPath() string { return s.st.path }

// Depth is the nesting depth: 0 for the target itself.
func (s *Session) Depth() int { return s.depth }

// SetFormat refines the target's format name (a zip that turns out to be a
// PyTorch checkpoint reports "pytorch-zip"). It has effect only at depth 0.
func (s *Session) SetFormat(name string) {
	if s.depth != 0 {
		return
	}
	s.st.mu.Lock()
	s.st.format = name
	s.st.mu.Unlock()
}

// Report records a finding. An empty Member is filled with the session's
// member path; a non-empty one is taken as relative to it.
func (s *Session) Report(f Finding) {
	f.Member = joinMember(s.member, f.Member)
	s.st.mu.Lock()
	s.st.findings = append(s.st.findings, f)
	s.st.mu.Unlock()
}

// ReportError records err as a finding: MV-LIMIT for a limit, MV-MALFORMED
// otherwise. Container formats use it for a member they could not read, and
// carry on with the next.
func (s *Session) ReportError(member string, err error) {
	rule := RuleMalformed
	if errors.Is(err, ErrLimit) {
		rule = RuleLimit
	}
	s.Report(Finding{RuleID: rule, Severity: SeverityInfo, Member: member, Offset: -1, Message: err.Error()})
}

// Charge counts n more decompressed bytes against the target's expansion
// budget (Limits.MaxExpandedBytes) and fails once it is spent.
func (s *Session) Charge(n int64) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.expanded += n
	if s.st.expanded > s.sc.limits.MaxExpandedBytes {
		return &LimitError{Limit: "max-expanded-bytes", Max: s.sc.limits.MaxExpandedBytes}
	}
	return nil
}

func joinMember(base, rel string) string {
	switch {
	case base == "":
		return rel
	case rel == "":
		return base
	}
	return base + "/" + rel
}

// Nested dispatches content found inside the current one (an archive member,
// a decompressed stream, a byte string a pickle deserialises) to the format
// that recognises it, and summarises what it found. Problems inside are
// recorded as findings, so the only error returned is the context's.
func (s *Session) Nested(ctx context.Context, member string, r io.ReaderAt, size int64) (NestedResult, error) {
	if err := ctx.Err(); err != nil {
		return NestedResult{}, err
	}
	child := &Session{sc: s.sc, member: joinMember(s.member, member), depth: s.depth + 1, st: s.st}
	if child.depth > s.sc.limits.MaxDepth {
		err := &LimitError{Limit: "max-depth", Max: int64(s.sc.limits.MaxDepth)}
		child.ReportError("", err)
		return NestedResult{Complete: false}, nil
	}
	before := s.mark()
	f, err := s.sc.dispatch(ctx, child, r, size)
	res := NestedResult{Complete: true}
	if f != nil {
		res.Format = f.Name()
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if !errors.Is(err, ErrUnsupported) {
			child.ReportError("", err)
			res.Complete = false
		}
	}
	s.st.mu.Lock()
	for _, fd := range s.st.findings[before:] {
		if fd.RuleID == RuleLimit || fd.RuleID == RuleMalformed {
			res.Complete = false
			continue
		}
		if res.Findings == 0 || fd.Severity > res.MaxSeverity {
			res.MaxSeverity = fd.Severity
		}
		res.Findings++
	}
	s.st.mu.Unlock()
	return res, nil
}

// Child returns a session for the member at the given path (relative to
// this one), one level deeper, for a container format that reads a member
// itself instead of dispatching it (PyTorch's tar format reads its
// "storages" member as pickles mixed with raw data). Findings reported
// through it carry the member's path.
func (s *Session) Child(member string) *Session {
	return &Session{sc: s.sc, member: joinMember(s.member, member), depth: s.depth + 1, st: s.st}
}

// NestedStream is Nested for content that can only be read once (a
// decompressor's output). It spools the stream, charging every byte to the
// expansion budget, then dispatches it.
func (s *Session) NestedStream(ctx context.Context, member string, r io.Reader) (NestedResult, error) {
	sp, err := spool(r, s)
	if err != nil {
		s.ReportError(member, fmt.Errorf("read %s: %w", path.Base(member), err))
		return NestedResult{Complete: false}, ctx.Err()
	}
	defer sp.Close()
	return s.Nested(ctx, member, sp, sp.Size())
}

// mark returns the number of findings so far, for summarising what a nested
// scan added. Findings added concurrently by sibling members are counted too:
// a summary errs on the side of danger.
func (s *Session) mark() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return len(s.st.findings)
}
