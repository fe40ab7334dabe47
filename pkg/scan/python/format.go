package python

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
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

// Match implements scan.Format: a strong opening.
func (Format) Match(head []byte, size int64) bool {
	return opening(head, size) == strongOpening
}

// Text is text that may be Python: its first statement is an assignment
// or a call ("VERSION = '1'", "__import__('os')"), or the first KiB holds
// only comments. Other text formats share such openings, so it is tried
// after every other format but pickle, and content that does not parse is
// not Python: it goes on to the pickle format (a protocol 0 pickle is text
// too), which is the last.
type Text struct{}

var _ scan.Format = Text{}

// Name implements scan.Format.
func (Text) Name() string { return "python" }

// Match implements scan.Format.
func (Text) Match(head []byte, size int64) bool {
	return opening(head, size) == weakOpening
}

// Scan implements scan.Format.
func (Text) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	err := Format{}.Scan(ctx, s, r, size)
	if errors.Is(err, scan.ErrMalformed) {
		s.SetFormat(pickle.Format{}.Name())
		return pickle.Format{}.Scan(ctx, s, r, size)
	}
	return err
}

type strength uint8

const (
	notPython strength = iota
	// weakOpening: a first line such as "x = 1" or "setup(", which other
	// text (INI, TOML) can share; content that then does not parse is not
	// Python.
	weakOpening
	// strongOpening: an import, def, class, decorator, docstring or python
	// shebang; content that then does not parse is malformed Python.
	strongOpening
)

func opening(head []byte, size int64) strength {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(head, 0) >= 0 {
		return notPython
	}
	rest := head
	comments := false
	for len(rest) > 0 {
		line, tail, found := bytes.Cut(rest, []byte("\n"))
		if !found && int64(len(head)) < size && !bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			return notPython // a line longer than the head: not enough to tell
		}
		t := strings.TrimRight(string(line), "\r")
		if strings.HasPrefix(t, "#!") && len(rest) == len(head) {
			if strings.Contains(t, "python") {
				return strongOpening
			}
			return notPython
		}
		trimmed := strings.TrimLeft(t, " \t\f")
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			comments = comments || trimmed != ""
			rest = tail
			if !found && comments && int64(len(head)) < size {
				return weakOpening // only comments in the head, which ends mid-line
			}
			continue
		case trimmed != t:
			return notPython // an indented first statement is not Python
		}
		if !utf8.Valid(line) && !bytes.Contains(head, []byte("coding")) {
			return notPython
		}
		for _, o := range openings {
			if strings.HasPrefix(t, o) {
				switch o {
				case "from ":
					if strings.Contains(t, " import ") {
						return strongOpening
					}
					return notPython
				case "import ":
					if importLine(t[len(o):]) {
						return strongOpening
					}
					return notPython
				case "class ":
					// "class Foo:" or "class Foo(Base):", not "class Foo {".
					rest := strings.TrimLeft(t[len(o):], " \t")
					i := strings.IndexFunc(rest, func(r rune) bool { return !isIdentRune(r) })
					if i > 0 && strings.ContainsRune(":([", rune(rest[i])) {
						return strongOpening
					}
					return notPython
				}
				return strongOpening
			}
		}
		return weakStatement(t)
	}
	if comments && int64(len(head)) < size {
		return weakOpening
	}
	return notPython
}

func isIdentRune(r rune) bool {
	return r == '_' || r >= 0x80 || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// weakStatement recognises a first line that is an assignment or a call
// ("VERSION = '1'", "__import__('os')", "setup(") or opens a compound
// statement ("if x:", "for ...", "with ..."), and a parenthesised
// expression statement.
func weakStatement(t string) strength {
	for _, kw := range []string{"if ", "for ", "while ", "with ", "assert ", "raise ", "global ", "del ", "print(", "exec(", "eval(", "(", "lambda"} {
		if strings.HasPrefix(t, kw) {
			return weakOpening
		}
	}
	i := strings.IndexFunc(t, func(r rune) bool { return !isIdentRune(r) && r != '.' })
	if i <= 0 || t[0] >= '0' && t[0] <= '9' || !dottedName(t[:i]) {
		return notPython
	}
	rest := strings.TrimLeft(t[i:], " \t")
	switch {
	case strings.HasPrefix(rest, "==") || strings.HasPrefix(rest, "=>"):
		return notPython
	case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "(") || strings.HasPrefix(rest, "[") ||
		strings.HasPrefix(rest, "+=") || strings.HasPrefix(rest, ","):
		return weakOpening
	}
	return notPython
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
	sum := sha256.Sum256(b)
	res.Allowed = s.Policy().AllowsCode(s.Path(), "sha256:"+hex.EncodeToString(sum[:]))
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
	sev, note := scan.SeverityHigh, ""
	if res.Allowed {
		sev, note = scan.SeverityInfo, "; allowed by the policy's allowCode as reviewed"
	}
	s.Report(scan.Finding{RuleID: scan.RulePythonCode, Severity: sev, Member: member, Offset: -1,
		Message: "Python code, which runs when a loader imports it (it imports " + imports + ")" + note})
	for _, u := range res.Uses {
		msg := fmt.Sprintf("line %d: %s (%s)", u.Line, u.Symbol, categoryText[u.Category])
		if u.How != "" {
			msg += ", " + u.How
		}
		s.Report(scan.Finding{RuleID: scan.RulePythonDangerous, Severity: scan.SeverityCritical, Member: member,
			Offset: -1, Line: u.Line, Symbol: u.Symbol, Message: msg})
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

// importLine reports whether s (after "import ") is a Python import list,
// "a.b as c, d", up to the end of the line, a ";" or a comment.
// JavaScript's "import { x } from 'y'" is not.
func importLine(s string) bool {
	s, _, _ = strings.Cut(s, "#")
	s, _, _ = strings.Cut(s, ";")
	for _, item := range strings.Split(s, ",") {
		f := strings.Fields(item)
		switch {
		case len(f) == 1 && dottedName(f[0]):
		case len(f) == 3 && dottedName(f[0]) && f[1] == "as" && dottedName(f[2]) && !strings.Contains(f[2], "."):
		case len(f) == 1 && f[0] == "\\":
		default:
			return false
		}
	}
	return true
}

func dottedName(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || r >= 0x80 || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}
