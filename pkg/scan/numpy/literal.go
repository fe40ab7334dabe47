package numpy

import (
	"errors"
	"strconv"
	"strings"
)

// value is a parsed Python literal: string, int, bool/None, tuple, list or
// dict (keys are strings).
type value struct {
	kind  byte // 's' string, 'i' int, 'b' bool or None, 't' tuple, 'l' list, 'd' dict
	str   string
	num   int64
	items []value
	keys  []string
}

var errLiteral = errors.New("bad header literal")

// maxLiteralDepth bounds nesting in a header (structured dtypes nest a few
// levels).
const maxLiteralDepth = 32

type parser struct {
	s   string
	pos int
}

func parseLiteral(s string) (value, error) {
	p := &parser{s: s}
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	p.space()
	if p.pos != len(p.s) {
		return value{}, errLiteral
	}
	return v, nil
}

func (p *parser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *parser) value(depth int) (value, error) {
	if depth > maxLiteralDepth {
		return value{}, errLiteral
	}
	p.space()
	if p.pos >= len(p.s) {
		return value{}, errLiteral
	}
	switch c := p.s[p.pos]; {
	case c == '\'' || c == '"':
		str, err := p.str()
		return value{kind: 's', str: str}, err
	case c == '(' || c == '[':
		closing := byte(')')
		kind := byte('t')
		if c == '[' {
			closing, kind = ']', 'l'
		}
		p.pos++
		v := value{kind: kind}
		for {
			p.space()
			if p.pos < len(p.s) && p.s[p.pos] == closing {
				p.pos++
				return v, nil
			}
			item, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			v.items = append(v.items, item)
			p.space()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == closing {
				p.pos++
				return v, nil
			}
			return value{}, errLiteral
		}
	case c == '{':
		p.pos++
		v := value{kind: 'd'}
		for {
			p.space()
			if p.pos < len(p.s) && p.s[p.pos] == '}' {
				p.pos++
				return v, nil
			}
			k, err := p.value(depth + 1)
			if err != nil || k.kind != 's' {
				return value{}, errLiteral
			}
			p.space()
			if p.pos >= len(p.s) || p.s[p.pos] != ':' {
				return value{}, errLiteral
			}
			p.pos++
			item, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			v.keys = append(v.keys, k.str)
			v.items = append(v.items, item)
			p.space()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == '}' {
				p.pos++
				return v, nil
			}
			return value{}, errLiteral
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		txt := p.s[start:p.pos]
		if p.pos < len(p.s) && p.s[p.pos] == 'L' { // Python 2 long
			p.pos++
		}
		n, err := strconv.ParseInt(txt, 10, 64)
		if err != nil {
			return value{}, errLiteral
		}
		return value{kind: 'i', num: n}, nil
	default:
		for _, w := range []string{"True", "False", "None"} {
			if strings.HasPrefix(p.s[p.pos:], w) {
				p.pos += len(w)
				return value{kind: 'b', str: w}, nil
			}
		}
		return value{}, errLiteral
	}
}

func (p *parser) str() (string, error) {
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case q:
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.s) {
				return "", errLiteral
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		default:
			b.WriteByte(c)
		}
	}
	return "", errLiteral
}

func (v value) get(key string) (value, bool) {
	for i, k := range v.keys {
		if k == key {
			return v.items[i], true
		}
	}
	return value{}, false
}
