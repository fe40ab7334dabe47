package jinja

import (
	"slices"
	"strconv"
	"strings"
)

// kind is what the analyser knows about a value.
type kind uint8

const (
	kUnknown kind = iota // anything; frags may hold known pieces of a string
	kStr                 // a string, one of strs
	kNum                 // an integer
	kList                // a list or tuple of items
	kDict                // a dict with the given keys
)

// val is the abstract value of an expression. Strings are tracked as a small
// set of alternatives, so that a loop over constants or a conditional still
// folds; anything larger becomes unknown.
type val struct {
	k     kind
	strs  []string
	num   int64
	items []val
	keys  []string
	// frags are the known pieces of a string whose full value is unknown.
	frags []string
	// built marks strings made at run time (concatenation, join, format).
	built bool
	// fn names a Jinja global function (dict, range, namespace, ...).
	fn string
}

const (
	maxAlts   = 64       // alternatives kept for one string value
	maxStrLen = 64 << 10 // longest folded string
	maxItems  = 4096     // longest folded list
)

func unknown() val                 { return val{} }
func strVal(s string) val          { return val{k: kStr, strs: []string{s}} }
func numVal(n int64) val           { return val{k: kNum, num: n} }
func listVal(items []val) val      { return val{k: kList, items: items} }
func builtUnknown(fr []string) val { return val{built: true, frags: dedupe(fr)} }

// asStrs returns the string alternatives of v, with numbers in decimal.
func (v val) asStrs() ([]string, bool) {
	switch v.k {
	case kStr:
		return v.strs, true
	case kNum:
		return []string{strconv.FormatInt(v.num, 10)}, true
	}
	return nil, false
}

// fragments returns every known piece of string in v.
func (v val) fragments() []string {
	switch v.k {
	case kStr:
		return v.strs
	case kList:
		var out []string
		for _, it := range v.items {
			out = append(out, it.fragments()...)
		}
		return out
	case kDict:
		return v.keys
	}
	return v.frags
}

func dedupe(s []string) []string {
	if len(s) > maxAlts*4 {
		s = s[:maxAlts*4]
	}
	out := make([]string, 0, len(s))
	seen := make(map[string]bool, len(s))
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// strsVal builds a string value from alternatives, or an unknown one when
// there are too many or they are too long.
func strsVal(alts []string, built bool) val {
	alts = dedupe(alts)
	for _, a := range alts {
		if len(a) > maxStrLen {
			return builtUnknown(nil)
		}
	}
	if len(alts) == 0 || len(alts) > maxAlts {
		return val{built: true, frags: alts}
	}
	return val{k: kStr, strs: alts, built: built}
}

// concat is Jinja's ~ (and + on strings).
func concat(a, b val) val {
	sa, ok1 := a.asStrs()
	sb, ok2 := b.asStrs()
	if ok1 && ok2 && len(sa)*len(sb) <= maxAlts {
		var out []string
		for _, x := range sa {
			for _, y := range sb {
				if len(x)+len(y) > maxStrLen {
					return builtUnknown(append(slices.Clone(sa), sb...))
				}
				out = append(out, x+y)
			}
		}
		return strsVal(out, true)
	}
	return builtUnknown(append(slices.Clone(a.fragments()), b.fragments()...))
}

// union is a value that may be a or b.
func union(a, b val) val {
	if a.k == kStr && b.k == kStr {
		return strsVal(append(slices.Clone(a.strs), b.strs...), a.built || b.built)
	}
	if a.k == kNum && b.k == kNum && a.num == b.num {
		return a
	}
	return val{built: a.built || b.built, frags: dedupe(append(slices.Clone(a.fragments()), b.fragments()...))}
}

// mapStr applies f to every alternative (or known piece) of a string.
func mapStr(v val, f func(string) string) val {
	if s, ok := v.asStrs(); ok {
		out := make([]string, len(s))
		for i, x := range s {
			out[i] = f(x)
		}
		return strsVal(out, true)
	}
	fr := v.fragments()
	out := make([]string, len(fr))
	for i, x := range fr {
		out[i] = f(x)
	}
	return builtUnknown(out)
}

// joinItems joins a list's items with sep, as Jinja's join filter and
// str.join do.
func joinItems(items []val, sep val) val {
	acc := strVal("")
	if len(items) > maxItems {
		return builtUnknown(nil)
	}
	for i, it := range items {
		if i > 0 {
			acc = concat(acc, sep)
		}
		acc = concat(acc, it)
	}
	return acc
}

// chars splits a string into a list of one-character strings.
func chars(s string) val {
	rs := []rune(s)
	if len(rs) > maxItems {
		return unknown()
	}
	items := make([]val, len(rs))
	for i, r := range rs {
		items[i] = strVal(string(r))
	}
	return listVal(items)
}

// elements returns what iterating over v yields, as one value.
func elements(v val) val {
	switch v.k {
	case kList:
		if len(v.items) == 0 {
			return unknown()
		}
		acc := v.items[0]
		for _, it := range v.items[1:] {
			acc = union(acc, it)
			if acc.k == kUnknown && len(acc.frags) >= maxAlts*4 {
				break // already as vague as it gets
			}
		}
		return acc
	case kStr:
		var out []string
		for _, s := range v.strs {
			for _, r := range s {
				out = append(out, string(r))
			}
		}
		return strsVal(out, true)
	case kDict:
		return strsVal(v.keys, false)
	}
	return unknown()
}

func reverseString(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// pyFormat is printf-style formatting (the % operator and the format
// filter) for the conversions chat templates could use to spell a name.
func pyFormat(f val, args []val) val {
	fs, ok := f.asStrs()
	if !ok || len(fs) != 1 {
		return builtUnknown(f.fragments())
	}
	format := fs[0]
	var b strings.Builder
	ai := 0
	next := func() (val, bool) {
		if ai >= len(args) {
			return val{}, false
		}
		ai++
		return args[ai-1], true
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		// Skip flags, width and precision.
		for i < len(format) && strings.IndexByte("#0- +.123456789", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			return builtUnknown([]string{format})
		}
		switch format[i] {
		case '%':
			b.WriteByte('%')
		case 's', 'r', 'a', 'd', 'i', 'u':
			a, ok := next()
			if !ok {
				return builtUnknown([]string{format})
			}
			s, ok := a.asStrs()
			if !ok || len(s) != 1 {
				return builtUnknown(append([]string{format}, a.fragments()...))
			}
			if format[i] == 'r' || format[i] == 'a' {
				b.WriteString("'" + s[0] + "'")
			} else {
				b.WriteString(s[0])
			}
		case 'c':
			a, ok := next()
			if !ok {
				return builtUnknown([]string{format})
			}
			switch {
			case a.k == kNum && a.num >= 0 && a.num <= 0x10ffff:
				b.WriteRune(rune(a.num))
			case a.k == kStr && len(a.strs) == 1:
				b.WriteString(a.strs[0])
			default:
				return builtUnknown([]string{format})
			}
		default:
			return builtUnknown([]string{format})
		}
		if b.Len() > maxStrLen {
			return builtUnknown(nil)
		}
	}
	return strsVal([]string{b.String()}, true)
}

// braceFormat folds str.format with positional and automatic fields whose
// arguments are known; fields with attribute or index parts are checked by
// the caller and make the result unknown.
func braceFormat(f string, args []val) (string, bool) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", false
			}
			field := f[i+1 : i+end]
			i += end
			if k := strings.IndexAny(field, "!:"); k >= 0 {
				field = field[:k]
			}
			idx := auto
			if field == "" {
				auto++
			} else {
				n, err := strconv.Atoi(field)
				if err != nil {
					return "", false
				}
				idx = n
			}
			if idx < 0 || idx >= len(args) {
				return "", false
			}
			s, ok := args[idx].asStrs()
			if !ok || len(s) != 1 {
				return "", false
			}
			b.WriteString(s[0])
		default:
			b.WriteByte(c)
		}
		if b.Len() > maxStrLen {
			return "", false
		}
	}
	return b.String(), true
}

// formatFieldAttrs returns the attribute names and index keys that the
// replacement fields of a str.format string traverse: "{0.__class__}" and
// "{0[__globals__]}" reach into objects.
func formatFieldAttrs(f string) []string {
	var out []string
	for i := 0; i < len(f); i++ {
		if f[i] != '{' {
			continue
		}
		if i+1 < len(f) && f[i+1] == '{' {
			i++
			continue
		}
		end := strings.IndexByte(f[i:], '}')
		if end < 0 {
			return out
		}
		field := f[i+1 : i+end]
		i += end
		if k := strings.IndexAny(field, "!:"); k >= 0 {
			field = field[:k]
		}
		for j := 0; j < len(field); j++ {
			switch field[j] {
			case '.':
				k := j + 1
				for k < len(field) && field[k] != '.' && field[k] != '[' {
					k++
				}
				out = append(out, field[j+1:k])
				j = k - 1
			case '[':
				k := strings.IndexByte(field[j:], ']')
				if k < 0 {
					return out
				}
				out = append(out, field[j+1:j+k])
				j += k
			}
		}
	}
	return out
}

// pySlice applies a Python slice to n elements and returns the indexes.
func pySlice(n int, start, stop, step *int64) []int {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 || n > maxItems {
		return nil
	}
	N := int64(n)
	st = max(-N-1, min(st, N+1)) // a larger step takes one element, and cannot overflow
	norm := func(p *int64, def int64, lo, hi int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += N
		}
		return max(lo, min(v, hi))
	}
	var out []int
	if st > 0 {
		a, b := norm(start, 0, 0, N), norm(stop, N, 0, N)
		for i := a; i < b; i += st {
			out = append(out, int(i))
		}
	} else {
		a, b := norm(start, N-1, -1, N-1), norm(stop, -1, -1, N-1)
		if stop == nil {
			b = -1
		}
		for i := a; i > b; i += st {
			out = append(out, int(i))
		}
	}
	return out
}
