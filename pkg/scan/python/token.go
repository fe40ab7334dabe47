package python

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is a token's kind, as CPython's tokenize module names them.
type tokKind uint8

const (
	tEOF tokKind = iota
	tName
	tNumber
	tString
	tOp
	tNewline
	tIndent
	tDedent
)

// token is one lexical token. For f-strings, fields holds the source of
// each replacement field's expression, which the parser parses in turn.
type token struct {
	kind   tokKind
	val    string
	line   int
	fields []fstringField
}

type fstringField struct {
	src  string
	line int
}

// SyntaxError is source that is not Python.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// operators, longest first so that the lexer takes the longest match.
var operators = []string{
	"**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=", ":=",
	"<<", "<=", "==", ">=", ">>", "@=", "^=", "|=",
	"!", "%", "&", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
}

type lexer struct {
	src     string
	pos     int
	line    int
	indents []int
	parens  int
	toks    []token
	maxToks int
	maxNest int
	atBOL   bool // at the beginning of a logical line
}

// tokenize splits src into tokens, with NEWLINE, INDENT and DEDENT as the
// language reference defines them. maxToks and maxNest bound the work.
func tokenize(src string, maxToks, maxNest int) ([]token, error) {
	src = strings.TrimPrefix(src, "\ufeff")
	if !utf8.ValidString(src) {
		if !declaresEncoding(src) {
			return nil, &SyntaxError{1, "source is not valid UTF-8"}
		}
		// PEP 263: another encoding is declared. Bytes above 0x7f only
		// occur in strings, comments and identifiers, so reading them as
		// Latin-1 keeps every token's kind and extent.
		src = latin1(src)
	}
	lx := &lexer{src: src, line: 1, indents: []int{0}, atBOL: true, maxToks: maxToks, maxNest: maxNest}
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

// declaresEncoding reports a PEP 263 coding declaration in the first two
// lines.
func declaresEncoding(src string) bool {
	for i := 0; i < 2; i++ {
		line, rest, _ := strings.Cut(src, "\n")
		if t := strings.TrimLeft(line, " \t\f"); strings.HasPrefix(t, "#") && strings.Contains(t, "coding") &&
			(strings.Contains(t, "coding:") || strings.Contains(t, "coding=")) {
			return true
		}
		src = rest
	}
	return false
}

func latin1(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

func (lx *lexer) emit(t token) error {
	if len(lx.toks) >= lx.maxToks {
		return errTooManyTokens
	}
	lx.toks = append(lx.toks, t)
	return nil
}

func (lx *lexer) errf(format string, args ...any) error {
	return &SyntaxError{lx.line, fmt.Sprintf(format, args...)}
}

func (lx *lexer) run() error {
	for {
		if lx.atBOL && lx.parens == 0 {
			if done, err := lx.indentation(); err != nil || done {
				return err
			}
		}
		if lx.pos >= len(lx.src) {
			return lx.finish()
		}
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			lx.pos++
		case c == '#':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' && lx.src[lx.pos] != '\r' {
				lx.pos++
			}
		case c == '\\':
			// Explicit line joining: a backslash before the end of the line.
			rest := lx.src[lx.pos+1:]
			switch {
			case strings.HasPrefix(rest, "\r\n"):
				lx.pos += 3
			case strings.HasPrefix(rest, "\n") || strings.HasPrefix(rest, "\r"):
				lx.pos += 2
			default:
				return lx.errf("unexpected character after line continuation character")
			}
			lx.line++
			if lx.pos >= len(lx.src) {
				return lx.errf("unexpected end of file after line continuation")
			}
		case c == '\n' || c == '\r':
			lx.pos++
			if c == '\r' && lx.pos < len(lx.src) && lx.src[lx.pos] == '\n' {
				lx.pos++
			}
			if lx.parens == 0 {
				if err := lx.emit(token{kind: tNewline, line: lx.line}); err != nil {
					return err
				}
				lx.atBOL = true
			}
			lx.line++
		case isDigit(c) || c == '.' && lx.pos+1 < len(lx.src) && isDigit(lx.src[lx.pos+1]):
			if err := lx.number(); err != nil {
				return err
			}
		case isIdentStart(c):
			if err := lx.nameOrString(); err != nil {
				return err
			}
		case c == '"' || c == '\'':
			if err := lx.str(lx.pos, ""); err != nil {
				return err
			}
		default:
			if err := lx.op(); err != nil {
				return err
			}
		}
	}
}

// indentation reads the start of a line: blank and comment-only lines are
// skipped, otherwise the indent is compared with the stack.
func (lx *lexer) indentation() (bool, error) {
	for {
		col, i := 0, lx.pos
		for i < len(lx.src) {
			switch lx.src[i] {
			case ' ':
				col++
			case '\t':
				col = (col/8 + 1) * 8
			case '\f':
				col = 0
			default:
				goto measured
			}
			i++
		}
	measured:
		if i >= len(lx.src) {
			lx.pos = i
			return true, lx.finish()
		}
		switch lx.src[i] {
		case '#':
			for i < len(lx.src) && lx.src[i] != '\n' && lx.src[i] != '\r' {
				i++
			}
			fallthrough
		case '\n', '\r':
			if i < len(lx.src) && lx.src[i] == '\r' {
				i++
			}
			if i < len(lx.src) && lx.src[i] == '\n' {
				i++
			}
			lx.pos = i
			lx.line++
			continue
		case '\\':
			// A continuation at the start of a line: not an indent of its own.
			lx.pos = i
			lx.atBOL = false
			return false, nil
		}
		lx.pos = i
		lx.atBOL = false
		top := lx.indents[len(lx.indents)-1]
		switch {
		case col > top:
			if len(lx.indents) > lx.maxNest {
				return false, errTooDeep
			}
			lx.indents = append(lx.indents, col)
			return false, lx.emit(token{kind: tIndent, line: lx.line})
		case col < top:
			for col < lx.indents[len(lx.indents)-1] {
				lx.indents = lx.indents[:len(lx.indents)-1]
				if err := lx.emit(token{kind: tDedent, line: lx.line}); err != nil {
					return false, err
				}
			}
			if col != lx.indents[len(lx.indents)-1] {
				return false, lx.errf("unindent does not match any outer indentation level")
			}
		}
		return false, nil
	}
}

func (lx *lexer) finish() error {
	if lx.parens > 0 {
		return lx.errf("unexpected end of file inside brackets")
	}
	if n := len(lx.toks); n > 0 && lx.toks[n-1].kind != tNewline && lx.toks[n-1].kind != tDedent {
		if err := lx.emit(token{kind: tNewline, line: lx.line}); err != nil {
			return err
		}
	}
	for len(lx.indents) > 1 {
		lx.indents = lx.indents[:len(lx.indents)-1]
		if err := lx.emit(token{kind: tDedent, line: lx.line}); err != nil {
			return err
		}
	}
	return lx.emit(token{kind: tEOF, line: lx.line})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func (lx *lexer) number() error {
	start := lx.pos
	digits := func(ok func(byte) bool) {
		for lx.pos < len(lx.src) && (ok(lx.src[lx.pos]) || lx.src[lx.pos] == '_') {
			lx.pos++
		}
	}
	src := lx.src
	if src[lx.pos] == '0' && lx.pos+1 < len(src) && strings.ContainsRune("xXoObB", rune(src[lx.pos+1])) {
		lx.pos += 2
		digits(isHex)
	} else {
		digits(isDigit)
		if lx.pos < len(src) && src[lx.pos] == '.' {
			lx.pos++
			digits(isDigit)
		}
		// An exponent only when digits follow: "1else" is 1 and else.
		if lx.pos < len(src) && (src[lx.pos] == 'e' || src[lx.pos] == 'E') {
			i := lx.pos + 1
			if i < len(src) && (src[i] == '+' || src[i] == '-') {
				i++
			}
			if i < len(src) && isDigit(src[i]) {
				lx.pos = i
				digits(isDigit)
			}
		}
		if lx.pos < len(src) && (src[lx.pos] == 'j' || src[lx.pos] == 'J') {
			lx.pos++
		}
	}
	return lx.emit(token{kind: tNumber, val: src[start:lx.pos], line: lx.line})
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (lx *lexer) nameOrString() error {
	start := lx.pos
	for lx.pos < len(lx.src) && isIdentChar(lx.src[lx.pos]) {
		lx.pos++
	}
	word := lx.src[start:lx.pos]
	if lx.pos < len(lx.src) && (lx.src[lx.pos] == '"' || lx.src[lx.pos] == '\'') && isStringPrefix(word) {
		return lx.str(start, strings.ToLower(word))
	}
	return lx.emit(token{kind: tName, val: word, line: lx.line})
}

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// str lexes a string literal whose prefix starts at start and whose quote
// is at lx.pos.
func (lx *lexer) str(start int, prefix string) error {
	line := lx.line
	raw := strings.Contains(prefix, "r")
	q := lx.src[lx.pos]
	triple := strings.HasPrefix(lx.src[lx.pos:], strings.Repeat(string(q), 3))
	if triple {
		lx.pos += 3
	} else {
		lx.pos++
	}
	bodyStart := lx.pos
	isF := strings.Contains(prefix, "f")
	var fields []fstringField
	for {
		if lx.pos >= len(lx.src) {
			return &SyntaxError{line, "unterminated string literal"}
		}
		c := lx.src[lx.pos]
		switch {
		case c == '\\':
			lx.pos++
			if lx.pos >= len(lx.src) {
				continue
			}
			switch n := lx.src[lx.pos]; {
			case n == '\n':
				lx.line++
				lx.pos++
			case raw && n != q && n != '\\' && n != '\r':
				// In a raw string a backslash escapes only the quote and
				// itself; "\{" in an rf-string is a backslash and a field.
			case !raw && isF && n == 'N' && strings.HasPrefix(lx.src[lx.pos:], "N{"):
				// \N{NAME} is a character name, not a replacement field.
				if end := strings.IndexByte(lx.src[lx.pos:], '}'); end >= 0 {
					lx.pos += end + 1
				} else {
					lx.pos++
				}
			default:
				lx.pos++
			}
		case c == '\n' || c == '\r':
			if !triple {
				return &SyntaxError{line, "unterminated string literal"}
			}
			if c == '\n' {
				lx.line++
			}
			lx.pos++
		case c == q && (!triple || strings.HasPrefix(lx.src[lx.pos:], strings.Repeat(string(q), 3))):
			body := lx.src[bodyStart:lx.pos]
			if triple {
				lx.pos += 3
			} else {
				lx.pos++
			}
			return lx.emit(token{kind: tString, val: prefix + "\x00" + body, line: line, fields: fields})
		case isF && c == '{':
			if strings.HasPrefix(lx.src[lx.pos:], "{{") {
				lx.pos += 2
				continue
			}
			f, err := lx.fstringField(q, triple)
			if err != nil {
				return err
			}
			fields = append(fields, f...)
		case isF && c == '}':
			lx.pos++
			if lx.pos < len(lx.src) && lx.src[lx.pos] == '}' {
				lx.pos++
			}
		default:
			lx.pos++
		}
	}
}

// fstringField reads a replacement field from "{" to its "}", returning the
// expression's source and those of fields nested in its format spec.
// Strings inside the expression may use any quote (as Python 3.12 allows).
func (lx *lexer) fstringField(q byte, triple bool) ([]fstringField, error) {
	line := lx.line
	lx.pos++ // {
	start := lx.pos
	depth := 0
	end := -1
	var out []fstringField
	for {
		if lx.pos >= len(lx.src) {
			return nil, &SyntaxError{line, "f-string: expecting '}'"}
		}
		c := lx.src[lx.pos]
		switch {
		case c == '\n':
			lx.line++
			lx.pos++
		case depth == 0 && end >= 0 && c == '{':
			// A nested field in the format spec.
			f, err := lx.fstringField(q, triple)
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		case end >= 0 && c != '}':
			lx.pos++ // format spec text
		case c == '#':
			// Python 3.12 allows comments in multi-line fields.
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '(' || c == '[' || c == '{':
			depth++
			if depth > lx.maxNest {
				return nil, errTooDeep
			}
			lx.pos++
		case (c == ')' || c == ']') && depth > 0:
			depth--
			lx.pos++
		case c == '}' && depth > 0:
			depth--
			lx.pos++
		case c == '}':
			if end < 0 {
				end = lx.pos
			}
			lx.pos++
			return append([]fstringField{{src: lx.src[start:end], line: line}}, out...), nil
		case c == '"' || c == '\'':
			// Python 3.12 allows the outer quote inside a field too: lex
			// it as a nested string.
			saved := len(lx.toks)
			if err := lx.str(lx.pos, ""); err != nil {
				return nil, err
			}
			lx.toks = lx.toks[:saved]
		case isIdentStart(c) && end < 0:
			s := lx.pos
			for lx.pos < len(lx.src) && isIdentChar(lx.src[lx.pos]) {
				lx.pos++
			}
			if w := lx.src[s:lx.pos]; lx.pos < len(lx.src) && (lx.src[lx.pos] == '"' || lx.src[lx.pos] == '\'') && isStringPrefix(w) {
				// A string inside the expression: its own fields are parsed
				// when the expression is, so they are not collected here
				// (collecting them too would parse nested f-strings an
				// exponential number of times).
				saved := len(lx.toks)
				if err := lx.str(s, strings.ToLower(w)); err != nil {
					return nil, err
				}
				lx.toks = lx.toks[:saved]
			}
		case depth == 0 && end < 0 && c == '!' && !strings.HasPrefix(lx.src[lx.pos:], "!="):
			end = lx.pos
			lx.pos++
		case depth == 0 && end < 0 && c == ':':
			end = lx.pos
			lx.pos++
		default:
			lx.pos++
		}
	}
}

func (lx *lexer) op() error {
	rest := lx.src[lx.pos:]
	for _, o := range operators {
		if strings.HasPrefix(rest, o) {
			switch o {
			case "(", "[", "{":
				lx.parens++
				if lx.parens > lx.maxNest {
					return errTooDeep
				}
			case ")", "]", "}":
				if lx.parens == 0 {
					return lx.errf("unmatched '%s'", o)
				}
				lx.parens--
			}
			lx.pos += len(o)
			return lx.emit(token{kind: tOp, val: o, line: lx.line})
		}
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return lx.errf("invalid character %q", r)
}
