package pickle

import (
	"strconv"
	"unicode/utf8"
)

// decodeStringLiteral decodes the argument of the protocol 0 STRING opcode: a
// quoted Python 2 str repr, with escapes as codecs.escape_decode reads them.
// CPython requires matching quotes at both ends.
func decodeStringLiteral(b []byte) ([]byte, bool) {
	if len(b) < 2 || (b[0] != '\'' && b[0] != '"') || b[len(b)-1] != b[0] {
		return nil, false
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			if c == '\\' { // a trailing lone backslash is an error in escape_decode
				return nil, false
			}
			out = append(out, c)
			continue
		}
		i++
		switch e := b[i]; e {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, e)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(b) {
				return nil, false
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, false
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		default:
			// Unknown escapes are kept as they are.
			out = append(out, '\\', e)
		}
	}
	return out, true
}

// decodeRawUnicodeEscape decodes the argument of the protocol 0 UNICODE
// opcode: bytes are Latin-1 code points, except \uXXXX and \UXXXXXXXX.
func decodeRawUnicodeEscape(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			// An odd number of backslashes before u makes an escape.
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return "", false
			}
			v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", false
			}
			out = utf8.AppendRune(out, rune(v))
			i += 1 + n
			continue
		}
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out), true
}

// latin1 encodes s as Latin-1, as _codecs.encode(s, "latin1") does; false if
// a code point does not fit.
func latin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// isIdentifierPath reports whether s is a dotted path of Python identifiers
// (ASCII letters, digits and underscores, or any non-ASCII letter).
func isIdentifierPath(s string) bool {
	if s == "" {
		return false
	}
	start := true
	for _, r := range s {
		switch {
		case r == '.':
			if start {
				return false
			}
			start = true
			continue
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0x80:
		case r >= '0' && r <= '9':
			if start {
				return false
			}
		default:
			return false
		}
		start = false
	}
	return !start
}

// nameLike is isIdentifierPath(s) || isShortWord(s) on bytes, without
// converting them to a string: it runs for every string literal.
func nameLike(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	ident, letter, short := true, false, len(b) <= 16
	start := true
	for _, c := range b {
		switch {
		case c == '.':
			if start {
				ident = false
			}
			start = true
			continue
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			letter = true
		case c >= 0x80:
			short = false
		case c >= '0' && c <= '9':
			if start {
				ident = false
			}
		case c == '-' || c == '<' || c == '>' || c == '|' || c == '=' || c == '[' || c == ']':
			ident = false
		default:
			return false
		}
		start = false
	}
	if start {
		ident = false
	}
	return ident || (short && letter)
}
