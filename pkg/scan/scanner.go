package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// Options configure a Scanner. The zero value scans with no formats; use
// package all for the default set.
type Options struct {
	// Formats are tried in order; the first whose Match accepts the content
	// scans it. Put specific magic numbers before loose ones (pickle last).
	Formats []Format
	// Limits bound every parser; zero fields take their defaults.
	Limits Limits
	// Policy adds allowed and denied globals; nil for none.
	Policy *Policy
	// FailOn is the lowest severity that makes a target dangerous; nil
	// means DefaultFailOn. FailAt(SeverityInfo) fails on every finding and
	// FailAt(SeverityNone) never fails.
	FailOn *Severity
	// Workers is how many files are scanned at once; 0 means one per CPU.
	Workers int
	// DigestLimit: files up to this size get a sha256 digest in the report
	// (reading the whole file). 0 means 256 MiB; negative means never. Larger
	// files are not hashed, so that scanning a 50 GB checkpoint reads only its
	// pickles.
	DigestLimit int64
}

// Scanner scans files, directories and readers. It is safe for concurrent use.
type Scanner struct {
	opts   Options
	limits Limits
	failOn Severity
}

// DefaultFailOn is the fail-on severity of a scanner whose options name
// none, and of scan --fail-on.
const DefaultFailOn = SeverityHigh

// FailAt is a fail-on severity for Options.FailOn.
func FailAt(s Severity) *Severity { return &s }

// ErrNoFormats is returned by New for options without formats: such a
// scanner would call every file unsupported, a malicious pickle included.
var ErrNoFormats = errors.New("scan: no formats to scan with")

// New returns a Scanner for opts. Options without formats are refused with
// ErrNoFormats, and a fail-on severity outside Info..None with an error.
func New(opts Options) (*Scanner, error) {
	if len(opts.Formats) == 0 {
		return nil, ErrNoFormats
	}
	for i, f := range opts.Formats {
		if f == nil {
			return nil, fmt.Errorf("scan: format %d is nil", i)
		}
	}
	if f := opts.FailOn; f != nil && (*f < SeverityInfo || *f > SeverityNone) {
		return nil, fmt.Errorf("scan: fail-on severity %d out of range", *f)
	}
	return newScanner(opts), nil
}

// MustNew is New for options fixed in the program (tests, the default
// formats); it panics where New returns an error.
func MustNew(opts Options) *Scanner {
	s, err := New(opts)
	if err != nil {
		panic(err)
	}
	return s
}

func newScanner(opts Options) *Scanner {
	s := &Scanner{opts: opts, limits: opts.Limits.WithDefaults(), failOn: DefaultFailOn}
	if opts.FailOn != nil {
		s.failOn = *opts.FailOn
	}
	if s.opts.Workers <= 0 {
		s.opts.Workers = runtime.GOMAXPROCS(0)
	}
	if s.opts.DigestLimit == 0 {
		s.opts.DigestLimit = 256 << 20
	}
	return s
}

// FailOn returns the effective fail-on severity.
func (s *Scanner) FailOn() Severity { return s.failOn }

// dispatch sniffs the content and runs the first format that matches.
func (s *Scanner) dispatch(ctx context.Context, sess *Session, r io.ReaderAt, size int64) (Format, error) {
	head := make([]byte, min(size, HeadSize))
	if n, err := r.ReadAt(head, 0); err != nil && !(errors.Is(err, io.EOF) && int64(n) == int64(len(head))) {
		return nil, fmt.Errorf("read: %w", err)
	}
	for _, f := range s.opts.Formats {
		if f.Match(head, size) {
			return f, f.Scan(ctx, sess, r, size)
		}
	}
	return nil, ErrUnsupported
}

// ScanReaderAt scans content of the given size and returns its report under
// path. Digest is left for the caller to fill in.
func (s *Scanner) ScanReaderAt(ctx context.Context, path string, r io.ReaderAt, size int64) Target {
	return s.scanReaderAt(ctx, path, "", r, size)
}

// scanReaderAt is ScanReaderAt with the directory that holds the content on
// disk ("" when it has none), which Session.Dir reports.
func (s *Scanner) scanReaderAt(ctx context.Context, path, dir string, r io.ReaderAt, size int64) Target {
	st := &targetState{path: path, dir: dir}
	sess := &Session{sc: s, st: st, dir: dir}
	f, err := s.dispatch(ctx, sess, r, size)
	t := Target{Path: path, Size: size, Format: "unknown"}
	if f != nil {
		t.Format = f.Name()
	}
	if st.format != "" {
		t.Format = st.format
	}
	if errors.Is(err, ErrUnsupported) {
		switch ext := modelExtension(path); ext {
		case "":
		case rawDataExtension:
			t.rawCandidate = true
		default:
			err = unrecognisedName(ext)
		}
	}
	if err != nil && !errors.Is(err, ErrUnsupported) {
		t.Error = err.Error()
		sess.ReportError("", err)
	}
	t.Findings = st.findings
	if t.Findings == nil {
		t.Findings = []Finding{}
	}
	slices.SortStableFunc(t.Findings, func(a, b Finding) int {
		switch {
		case a.less(b):
			return -1
		case b.less(a):
			return 1
		}
		return 0
	})
	t.Verdict = verdict(t.Findings, err, s.failOn)
	return t
}

// ScanFile scans the file at path and reports it as display (the path the
// user gave, which may differ from a symlink's target).
func (s *Scanner) ScanFile(ctx context.Context, path, display string) Target {
	f, err := os.Open(path)
	if err != nil {
		return s.unreadable(display, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s.unreadable(display, err)
	}
	t := s.scanReaderAt(ctx, display, filepath.Dir(path), f, fi.Size())
	if s.opts.DigestLimit > 0 && fi.Size() <= s.opts.DigestLimit {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err == nil {
			t.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		}
	}
	return t
}

// FormatNothing is the format of a NothingScanned target.
const FormatNothing = "none"

// NothingScanned is the target for a path or reference the user named under
// which no file was scanned (an empty folder, a path that does not exist, an
// artifact without a file layer), with why saying what was found instead. Its
// verdict is malformed, so that the scan exits 2: a pipeline pointed at the
// wrong place must not pass.
func NothingScanned(path, why string) Target {
	msg := "nothing scanned: " + why
	return Target{
		Path: path, Format: FormatNothing, Verdict: VerdictMalformed, Error: msg,
		Findings: []Finding{{RuleID: RuleNothingScanned, Severity: SeverityInfo, Offset: -1, Message: msg}},
	}
}

func (s *Scanner) unreadable(path string, err error) Target {
	return Target{
		Path: path, Format: "unknown", Verdict: VerdictMalformed, Error: err.Error(),
		Findings: []Finding{{RuleID: RuleMalformed, Severity: SeverityInfo, Offset: -1, Message: err.Error()}},
	}
}

// ScanPaths scans files and directories (recursively), files in parallel, and
// returns one target per file. It fails only when the context is cancelled;
// unreadable paths become malformed targets, and a path under which no file
// was found becomes a NothingScanned target.
func (s *Scanner) ScanPaths(ctx context.Context, paths []string) ([]Target, error) {
	files := make(chan fileRef)
	var walkErrs []Target
	go func() {
		defer close(files)
		for _, p := range paths {
			n, errs := walk(ctx, p, files)
			if n == 0 && ctx.Err() == nil {
				// A pipeline pointed at the wrong folder or at a pattern
				// that matched nothing must not pass.
				why := "no file found"
				if len(errs) > 0 && errs[0].Display == p {
					why = errs[0].Err.Error()
					errs = errs[1:]
				}
				walkErrs = append(walkErrs, NothingScanned(p, why))
			}
			for _, bad := range errs {
				walkErrs = append(walkErrs, s.unreadable(bad.Display, bad.Err))
			}
		}
	}()
	var (
		mu      sync.Mutex
		targets []Target
		wg      sync.WaitGroup
	)
	for range s.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fr := range files {
				if ctx.Err() != nil {
					continue
				}
				t := s.ScanFile(ctx, fr.Path, fr.Display)
				mu.Lock()
				targets = append(targets, t)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return append(targets, walkErrs...), nil
}
