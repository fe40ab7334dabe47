package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind classifies expression tokens.
type tokKind uint8

const (
	tEOF tokKind = iota
	tName
	tString
	tInt
	tFloat
	tOp
)

type token struct {
	kind tokKind
	text string // name, operator, or the decoded string value
	num  int64  // tInt
	pos  int    // byte offset in the template
}

// tagKind says whether a tag is an expression {{ }} or a statement {% %}.
type tagKind uint8

const (
	tagVar tagKind = iota
	tagBlock
)

type tag struct {
	kind tagKind
	toks []token // ends with a tEOF token
	pos  int
}

// operators, longest first so that "//" wins over "/".
var operators = []string{"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=", "<", ">", ";"}

// lexTemplate splits a template into its expression and statement tags;
// comments and raw blocks are dropped, and so is the text between tags,
// which is output verbatim.
func lexTemplate(src string) ([]tag, error) {
	var tags []tag
	i := 0
	for {
		j := indexOpener(src, i)
		if j < 0 {
			return tags, nil
		}
		open := src[j : j+2]
		k := j + 2
		if k < len(src) && (src[k] == '-' || src[k] == '+') {
			k++
		}
		switch open {
		case "{#":
			end := strings.Index(src[k:], "#}")
			if end < 0 {
				return nil, fmt.Errorf("offset %d: unclosed comment", j)
			}
			i = k + end + 2
			continue
		case "{{":
			toks, next, err := lexExpr(src, k, "}}")
			if err != nil {
				return nil, err
			}
			tags = append(tags, tag{kind: tagVar, toks: toks, pos: j})
			i = next
		case "{%":
			toks, next, err := lexExpr(src, k, "%}")
			if err != nil {
				return nil, err
			}
			if len(toks) >= 1 && toks[0].kind == tName && toks[0].text == "raw" {
				end := findEndRaw(src, next)
				if end < 0 {
					return nil, fmt.Errorf("offset %d: raw block without endraw", j)
				}
				i = end
				continue
			}
			tags = append(tags, tag{kind: tagBlock, toks: toks, pos: j})
			i = next
		}
	}
}

// indexOpener finds the next "{{", "{%" or "{#" at or after i.
func indexOpener(src string, i int) int {
	for {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 {
			return -1
		}
		j += i
		if j+1 < len(src) && (src[j+1] == '{' || src[j+1] == '%' || src[j+1] == '#') {
			return j
		}
		i = j + 1
	}
}

// findEndRaw returns the offset just past the {% endraw %} tag at or after i.
func findEndRaw(src string, i int) int {
	for {
		j := strings.Index(src[i:], "{%")
		if j < 0 {
			return -1
		}
		j += i
		k := j + 2
		if k < len(src) && (src[k] == '-' || src[k] == '+') {
			k++
		}
		rest := strings.TrimLeft(src[k:], " \t\r\n")
		if after, ok := strings.CutPrefix(rest, "endraw"); ok {
			after = strings.TrimLeft(after, " \t\r\n")
			after = strings.TrimPrefix(after, "-")
			after = strings.TrimPrefix(after, "+")
			if strings.HasPrefix(after, "%}") {
				return len(src) - len(after) + 2
			}
		}
		i = j + 2
	}
}

// lexExpr reads tokens from src[i:] up to the closer ("}}" or "%}") at
// bracket depth zero, and returns the tokens and the offset after the closer.
func lexExpr(src string, i int, closer string) ([]token, int, error) {
	var toks []token
	depth := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i >= len(src) {
			return nil, 0, fmt.Errorf("offset %d: tag not closed with %q", i, closer)
		}
		if depth == 0 {
			if strings.HasPrefix(src[i:], closer) {
				return append(toks, token{kind: tEOF, pos: i}), i + 2, nil
			}
			if (src[i] == '-' || src[i] == '+') && strings.HasPrefix(src[i+1:], closer) {
				return append(toks, token{kind: tEOF, pos: i}), i + 3, nil
			}
		}
		c := src[i]
		switch {
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, 0, err
			}
			toks = append(toks, token{kind: tString, text: s, pos: i})
			i = n
		case c >= '0' && c <= '9':
			j := i
			isFloat := false
			for j < len(src) && (isDigit(src[j]) || src[j] == '_' || (src[j] == '.' && j+1 < len(src) && isDigit(src[j+1]) && !isFloat) || src[j] == 'e' || src[j] == 'E') {
				if src[j] == '.' || src[j] == 'e' || src[j] == 'E' {
					isFloat = true
					if (src[j] == 'e' || src[j] == 'E') && j+1 < len(src) && (src[j+1] == '-' || src[j+1] == '+') {
						j++
					}
				}
				j++
			}
			text := strings.ReplaceAll(src[i:j], "_", "")
			if isFloat {
				toks = append(toks, token{kind: tFloat, text: text, pos: i})
			} else {
				n, err := strconv.ParseInt(text, 10, 64)
				if err != nil {
					toks = append(toks, token{kind: tFloat, text: text, pos: i})
				} else {
					toks = append(toks, token{kind: tInt, text: text, num: n, pos: i})
				}
			}
			i = j
		case isNameStart(c):
			j := i
			for j < len(src) && isNamePart(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tName, text: src[i:j], pos: i})
			i = j
		case c >= utf8.RuneSelf:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, 0, fmt.Errorf("offset %d: unexpected character %q", i, r)
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, 0, fmt.Errorf("offset %d: unexpected character %q", i, c)
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
				if depth < 0 {
					return nil, 0, fmt.Errorf("offset %d: unbalanced %q", i, op)
				}
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i += len(op)
		}
	}
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isNamePart(c byte) bool  { return isNameStart(c) || isDigit(c) }

// lexString decodes a quoted string at src[i] with Python's escape rules, as
// Jinja does, and returns it with the offset after the closing quote.
func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, nil
		case c == '\\' && j+1 < len(src):
			e := src[j+1]
			j += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case '\n':
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if j+n > len(src) {
					return "", 0, fmt.Errorf("offset %d: bad \\%c escape", j, e)
				}
				v, err := strconv.ParseUint(src[j:j+n], 16, 32)
				if err != nil || v > utf8.MaxRune {
					return "", 0, fmt.Errorf("offset %d: bad \\%c escape", j, e)
				}
				b.WriteRune(rune(v))
				j += n
			case 'N':
				// \N{NAME}: the name table is not worth carrying; keep the
				// text so that the value is at least not mistaken for another.
				end := strings.IndexByte(src[j:], '}')
				if end < 0 {
					return "", 0, fmt.Errorf("offset %d: bad \\N escape", j)
				}
				b.WriteString("\\N" + src[j:j+end+1])
				j += end + 1
			default:
				if e >= '0' && e <= '7' {
					k := j - 1
					for k < len(src) && k < j+2 && src[k] >= '0' && src[k] <= '7' {
						k++
					}
					v, _ := strconv.ParseUint(src[j-1:k], 8, 32)
					b.WriteRune(rune(v))
					j = k
				} else {
					b.WriteByte('\\')
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, fmt.Errorf("offset %d: unterminated string", i)
}
