package python

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Format is Python source. Python is text, so it is recognised by how it
// starts: a shebang naming python, or (after blank lines, comments and a
// coding line) a docstring, an import, a def, a class, a decorator or a
// few other statement openings. The whole file must then parse; a file
// that starts like Python and does not parse is malformed.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "python" }

// MaxSourceBytes caps a Python file read into memory: 16 MiB, far above
// any hand-written module (the largest of CPython's standard library is
// under 1 MiB).
const MaxSourceBytes = 16 << 20

var openings = []string{"import ", "from ", "def ", "class ", "async def ", "@", `"""`, "'''", `r"""`, "if __name__",
	"__all__", "try:", "__version__", "__author__", "__future__"}

// Match implements scan.Format.
func (Format) Match(head []byte, size int64) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	rest := head
	for len(rest) > 0 {
		line, tail, found := bytes.Cut(rest, []byte("\n"))
		if !found && int64(len(head)) < size {
			return false // a line longer than the head: not enough to tell
		}
		t := strings.TrimRight(string(line), "\r")
		if strings.HasPrefix(t, "#!") {
			if len(rest) == len(head) {
				return strings.Contains(t, "python")
			}
		}
		trimmed := strings.TrimLeft(t, " \t\f")
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			rest = tail
			continue
		case trimmed != t:
			return false // an indented first statement is not Python
		}
		if !utf8.Valid(line) && !bytes.Contains(head, []byte("coding")) {
			return false
		}
		for _, o := range openings {
			if strings.HasPrefix(t, o) {
				return o != "from " || strings.Contains(t, " import ")
			}
		}
		return false
	}
	return false
}

// Scan implements scan.Format: it parses the file and reports the code as
// high (it runs when imported) and each dangerous use as critical.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	if size > MaxSourceBytes {
		return &scan.LimitError{Limit: "max-python-source-bytes", Max: MaxSourceBytes}
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		return fmt.Errorf("read: %w", err)
	}
	mod, err := Parse(string(b), Limits{MaxNesting: s.Limits().MaxNesting})
	switch {
	case errors.Is(err, errTooDeep):
		return &scan.LimitError{Limit: "max-nesting", Max: int64(s.Limits().MaxNesting)}
	case errors.Is(err, errTooManyTokens):
		return &scan.LimitError{Limit: "max-python-tokens", Max: int64(Limits{}.withDefaults().MaxTokens)}
	case err != nil:
		// Python would not import it either; but what cannot be parsed
		// cannot be judged.
		return scan.Malformedf("python: %v", err)
	}
	res := Analyze(mod)
	Report(s, "", res)
	return nil
}

// Report records an analysis as findings on the member: one high finding
// for the code itself and one critical finding per dangerous use.
func Report(s *scan.Session, member string, res Analysis) {
	imports := "no modules"
	if n := len(res.Imports); n > 0 {
		shown := res.Imports
		if n > 8 {
			shown = shown[:8]
		}
		imports = strings.Join(shown, ", ")
		if n > 8 {
			imports += fmt.Sprintf(" and %d more", n-8)
		}
	}
	s.Report(scan.Finding{RuleID: scan.RulePythonCode, Severity: scan.SeverityHigh, Member: member, Offset: -1,
		Message: "Python code, which runs when a loader imports it (it imports " + imports + ")"})
	for _, u := range res.Uses {
		msg := fmt.Sprintf("line %d: %s (%s)", u.Line, u.Symbol, categoryText[u.Category])
		if u.How != "" {
			msg += ", " + u.How
		}
		s.Report(scan.Finding{RuleID: scan.RulePythonDangerous, Severity: scan.SeverityCritical, Member: member,
			Offset: -1, Symbol: u.Symbol, Message: msg})
	}
}

var categoryText = map[string]string{
	"process":         "runs a process",
	"file-write":      "writes or removes files",
	"network":         "reaches the network",
	"dynamic-code":    "runs or imports code chosen at run time",
	"native-code":     "loads native code",
	"deserialisation": "deserialises data that can run code",
}
