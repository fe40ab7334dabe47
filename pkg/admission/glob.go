package admission

import (
	"fmt"
	"strings"
)

// glob is a compiled reference pattern. "**" matches any run of characters,
// "*" any run without "/", "?" one character other than "/"; everything
// else matches itself.
type glob struct {
	src    string
	tokens []globToken
}

type globKind uint8

const (
	globLiteral globKind = iota
	globStar             // *
	globAny              // **
	globOne              // ?
)

type globToken struct {
	kind globKind
	lit  string
}

func compileGlob(p string) (glob, error) {
	if p == "" {
		return glob{}, fmt.Errorf("empty pattern")
	}
	if len(p) > maxReferenceLen {
		return glob{}, fmt.Errorf("pattern longer than %d bytes", maxReferenceLen)
	}
	g := glob{src: p}
	for i := 0; i < len(p); {
		switch {
		case strings.HasPrefix(p[i:], "**"):
			for strings.HasPrefix(p[i:], "*") {
				i++
			}
			g.tokens = append(g.tokens, globToken{kind: globAny})
		case p[i] == '*':
			g.tokens = append(g.tokens, globToken{kind: globStar})
			i++
		case p[i] == '?':
			g.tokens = append(g.tokens, globToken{kind: globOne})
			i++
		default:
			j := i
			for j < len(p) && p[j] != '*' && p[j] != '?' {
				j++
			}
			g.tokens = append(g.tokens, globToken{kind: globLiteral, lit: p[i:j]})
			i = j
		}
	}
	return g, nil
}

// match runs in O(len(tokens) * len(s)) time whatever the pattern, so a
// policy cannot make admission slow.
func (g glob) match(s string) bool {
	// cur[i] reports whether the tokens so far can end at s[:i].
	cur := make([]bool, len(s)+1)
	next := make([]bool, len(s)+1)
	cur[0] = true
	for _, t := range g.tokens {
		clear(next)
		switch t.kind {
		case globLiteral:
			for i := 0; i+len(t.lit) <= len(s); i++ {
				if cur[i] && s[i:i+len(t.lit)] == t.lit {
					next[i+len(t.lit)] = true
				}
			}
		case globOne:
			for i := 0; i < len(s); i++ {
				if cur[i] && s[i] != '/' {
					next[i+1] = true
				}
			}
		case globStar:
			for i := 0; i <= len(s); i++ {
				if cur[i] || i > 0 && next[i-1] && s[i-1] != '/' {
					next[i] = true
				}
			}
		case globAny:
			for i := 0; i <= len(s); i++ {
				if cur[i] || i > 0 && next[i-1] {
					next[i] = true
				}
			}
		}
		cur, next = next, cur
	}
	return cur[len(s)]
}
