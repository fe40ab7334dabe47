package jinja

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// The parser walks a template tag's tokens once, computing the abstract
// value of each expression (what strings it can spell) and reporting what
// it reaches through the analyzer.

type parser struct {
	a    *analyzer
	toks []token
	i    int
}

func (p *parser) cur() token  { return p.toks[p.i] }
func (p *parser) peek() token { return p.toks[min(p.i+1, len(p.toks)-1)] }
func (p *parser) advance() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) fail(format string, args ...any) {
	panic(parseError{fmt.Errorf("offset %d: %s", p.cur().pos, fmt.Sprintf(format, args...))})
}

func (p *parser) isOp(op string) bool  { t := p.cur(); return t.kind == tOp && t.text == op }
func (p *parser) isName(n string) bool { t := p.cur(); return t.kind == tName && t.text == n }
func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.advance()
		return true
	}
	return false
}
func (p *parser) acceptName(n string) bool {
	if p.isName(n) {
		p.advance()
		return true
	}
	return false
}
func (p *parser) expectOp(op string) {
	if !p.acceptOp(op) {
		p.fail("expected %q", op)
	}
}
func (p *parser) expectName() string {
	t := p.cur()
	if t.kind != tName {
		p.fail("expected a name")
	}
	p.advance()
	return t.text
}
func (p *parser) expectEOF() {
	if p.cur().kind != tEOF {
		p.fail("unexpected %q", p.cur().text)
	}
}

func (p *parser) enter() {
	p.a.depth++
	if p.a.depth > p.a.maxDepth {
		p.fail("expression nested deeper than %d", p.a.maxDepth)
	}
}
func (p *parser) leave() { p.a.depth-- }

// statement parses the inside of a {% %} tag.
func (p *parser) statement() {
	kw := p.expectName()
	pos := p.toks[0].pos
	switch kw {
	case "if", "elif":
		p.parseTuple(true)
	case "else", "endif", "endfor", "endmacro", "endcall", "endfilter", "endset", "endwith",
		"endblock", "break", "continue", "generation", "endgeneration", "endautoescape":
		// Nothing to evaluate; Jinja rejects trailing tokens, so do we.
	case "for":
		targets := p.targets()
		if !p.acceptName("in") {
			p.fail("expected 'in'")
		}
		it := p.parseTuple(false)
		el := elements(it)
		for i, t := range targets {
			if len(targets) == 1 {
				p.a.bind(t, el)
			} else if el.k == kList && i < len(el.items) {
				p.a.bind(t, el.items[i])
			} else {
				p.a.bind(t, unknown())
			}
		}
		p.a.bind("loop", unknown())
		if p.acceptName("if") {
			p.parseExpr(true)
		}
		p.acceptName("recursive")
	case "set":
		// set name = expr | set a, b = expr | set ns.attr = expr | set name %}...{% endset
		var names []string
		for {
			n := p.expectName()
			if p.acceptOp(".") {
				attr := p.expectName()
				p.a.checkName(attr, pos, "namespace assignment")
				names = append(names, n+"."+attr)
			} else {
				names = append(names, n)
			}
			if !p.acceptOp(",") {
				break
			}
		}
		if p.acceptOp("=") {
			v := p.parseTuple(true)
			for _, n := range names {
				if len(names) == 1 {
					p.a.bind(n, v)
				} else {
					p.a.bind(n, unknown())
				}
			}
		} else {
			for _, n := range names {
				p.a.bind(n, unknown())
			}
			for p.acceptOp("|") {
				p.filter(unknown())
			}
		}
	case "macro":
		p.a.bind(p.expectName(), unknown())
		p.signature()
	case "call":
		if p.isOp("(") {
			p.signature()
		}
		p.parseExpr(true)
	case "filter":
		p.filter(unknown())
		for p.acceptOp("|") {
			p.filter(unknown())
		}
	case "with":
		for p.cur().kind != tEOF {
			n := p.expectName()
			p.expectOp("=")
			p.a.bind(n, p.parseExpr(true))
			if !p.acceptOp(",") {
				break
			}
		}
	case "block":
		p.expectName()
		p.acceptName("scoped")
		p.acceptName("required")
	case "autoescape", "do":
		p.parseTuple(true)
	case "include", "import", "from", "extends":
		p.a.add(scan.SeverityHigh, true, pos, kw, fmt.Sprintf("template statement %q loads other templates from the renderer's loader", kw))
		p.parseExpr(true)
		for p.cur().kind != tEOF {
			p.advance()
		}
	default:
		p.fail("unknown tag %q", kw)
	}
	p.expectEOF()
}

// targets parses assignment targets of a for loop.
func (p *parser) targets() []string {
	paren := p.acceptOp("(")
	var out []string
	for {
		if p.acceptOp("(") {
			out = append(out, p.targets()...)
			p.expectOp(")")
		} else {
			out = append(out, p.expectName())
		}
		if !p.acceptOp(",") || (paren && p.isOp(")")) {
			break
		}
	}
	if paren {
		p.expectOp(")")
	}
	return out
}

// signature parses macro or call-block parameters with defaults.
func (p *parser) signature() {
	p.expectOp("(")
	for !p.isOp(")") {
		p.a.bind(p.expectName(), unknown())
		if p.acceptOp("=") {
			p.parseExpr(true)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
}

// parseTuple parses an expression or an unparenthesised tuple.
func (p *parser) parseTuple(withCond bool) val {
	first := p.parseExpr(withCond)
	if !p.isOp(",") {
		return first
	}
	items := []val{first}
	for p.acceptOp(",") {
		if p.cur().kind == tEOF || p.isOp(")") || p.isOp("=") || p.isName("if") || p.isName("recursive") {
			break
		}
		items = append(items, p.parseExpr(withCond))
	}
	return listVal(items)
}

func (p *parser) parseExpr(withCond bool) val {
	p.enter()
	defer p.leave()
	if !withCond {
		return p.parseOr()
	}
	v := p.parseOr()
	for p.acceptName("if") {
		p.parseOr()
		// Without else the expression is undefined when the condition is
		// false, and an undefined value renders as the empty string.
		other := strVal("")
		if p.acceptName("else") {
			other = p.parseExpr(true)
		}
		v = union(v, other)
	}
	return v
}

func (p *parser) parseOr() val {
	v := p.parseAnd()
	for p.acceptName("or") {
		v = union(v, p.parseAnd())
	}
	return v
}

func (p *parser) parseAnd() val {
	v := p.parseNot()
	for p.acceptName("and") {
		v = union(v, p.parseNot())
	}
	return v
}

func (p *parser) parseNot() val {
	if p.acceptName("not") {
		p.enter()
		defer p.leave()
		p.parseNot()
		return unknown()
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() val {
	v := p.parseMath1()
	for {
		switch {
		case p.isOp("==") || p.isOp("!=") || p.isOp("<") || p.isOp(">") || p.isOp("<=") || p.isOp(">="):
			p.advance()
		case p.isName("in"):
			p.advance()
		case p.isName("not") && p.peek().kind == tName && p.peek().text == "in":
			p.advance()
			p.advance()
		default:
			return v
		}
		p.parseMath1()
		v = unknown()
	}
}

func (p *parser) parseMath1() val {
	v := p.parseConcat()
	for {
		switch {
		case p.acceptOp("+"):
			pos := p.cur().pos
			v = p.a.noteBuilt(plus(v, p.parseConcat()), pos)
		case p.acceptOp("-"):
			p.parseConcat()
			v = unknown()
		default:
			return v
		}
	}
}

func plus(a, b val) val {
	switch {
	case a.k == kNum && b.k == kNum:
		return numVal(a.num + b.num)
	case a.k == kList && b.k == kList && len(a.items)+len(b.items) <= maxItems:
		return listVal(append(slices.Clone(a.items), b.items...))
	case a.k == kNum || b.k == kNum:
		return unknown()
	}
	return concat(a, b)
}

func (p *parser) parseConcat() val {
	v := p.parseMath2()
	for p.acceptOp("~") {
		pos := p.cur().pos
		v = p.a.noteBuilt(concat(v, p.parseMath2()), pos)
	}
	return v
}

func (p *parser) parseMath2() val {
	v := p.parsePow()
	for {
		switch {
		case p.acceptOp("*"):
			v = times(v, p.parsePow())
		case p.acceptOp("%"):
			pos := p.cur().pos
			arg := p.parsePow()
			args := []val{arg}
			if arg.k == kList {
				args = arg.items
			}
			if v.k == kNum {
				v = unknown()
			} else {
				v = p.a.noteBuilt(pyFormat(v, args), pos)
			}
		case p.acceptOp("/") || p.acceptOp("//"):
			p.parsePow()
			v = unknown()
		default:
			return v
		}
	}
}

func times(a, b val) val {
	if a.k == kNum && b.k != kNum {
		a, b = b, a
	}
	switch {
	case a.k == kNum && b.k == kNum:
		return numVal(a.num * b.num)
	case a.k == kStr && b.k == kNum && b.num >= 0 && b.num <= 256:
		for _, s := range a.strs {
			if len(s)*int(b.num) > maxStrLen {
				return builtUnknown(a.strs)
			}
		}
		return mapStr(a, func(s string) string { return strings.Repeat(s, int(b.num)) })
	case a.k == kList && b.k == kNum && b.num >= 0 && b.num <= maxItems && int(b.num)*len(a.items) <= maxItems:
		var items []val
		for range b.num {
			items = append(items, a.items...)
		}
		return listVal(items)
	}
	return builtUnknown(append(slices.Clone(a.fragments()), b.fragments()...))
}

func (p *parser) parsePow() val {
	v := p.parseUnary()
	for p.acceptOp("**") {
		p.parseUnary()
		v = unknown()
	}
	return v
}

func (p *parser) parseUnary() val {
	p.enter()
	defer p.leave()
	if p.acceptOp("-") || p.acceptOp("+") {
		v := p.parseUnary()
		if v.k == kNum {
			return numVal(-v.num)
		}
		return unknown()
	}
	v := p.parsePrimary()
	v = p.postfix(v)
	return p.filterExpr(v)
}

func (p *parser) parsePrimary() val {
	t := p.cur()
	switch t.kind {
	case tName:
		p.advance()
		switch t.text {
		case "true", "false", "True", "False", "none", "None":
			return unknown()
		}
		// A namespace attribute set with {% set ns.attr = ... %}.
		if p.isOp(".") && p.peek().kind == tName {
			if v, ok := p.a.env[t.text+"."+p.peek().text]; ok {
				p.advance()
				p.advance()
				return v
			}
		}
		if v, ok := p.a.env[t.text]; ok {
			return v
		}
		if dangerousNames[t.text] {
			p.a.add(scan.SeverityCritical, false, t.pos, t.text, fmt.Sprintf("template uses %s, which runs code or touches the system", t.text))
		}
		if globalFuncs[t.text] {
			return val{fn: t.text}
		}
		return unknown()
	case tString:
		s := ""
		for p.cur().kind == tString {
			s += p.advance().text
			if len(s) > maxStrLen {
				return unknown()
			}
		}
		if m := dunderRE.FindString(s); m != "" {
			p.a.add(scan.SeverityHigh, false, t.pos, m, fmt.Sprintf("string literal names Python internal %s", m))
		}
		return strVal(s)
	case tInt:
		p.advance()
		return numVal(t.num)
	case tFloat:
		p.advance()
		return unknown()
	case tOp:
		switch t.text {
		case "(":
			p.advance()
			if p.acceptOp(")") {
				return listVal(nil)
			}
			v := p.parseTuple(true)
			if p.isOp(",") { // one-element tuple "(x,)"
				p.advance()
				v = listVal([]val{v})
			}
			p.expectOp(")")
			return v
		case "[":
			p.advance()
			var items []val
			for !p.isOp("]") {
				items = append(items, p.parseExpr(true))
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp("]")
			if len(items) > maxItems {
				return unknown()
			}
			return listVal(items)
		case "{":
			p.advance()
			var keys []string
			for !p.isOp("}") {
				k := p.parseExpr(true)
				p.expectOp(":")
				p.parseExpr(true)
				if s, ok := k.asStrs(); ok {
					keys = append(keys, s...)
				}
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp("}")
			return val{k: kDict, keys: dedupe(keys)}
		}
	}
	p.fail("unexpected %q", t.text)
	return unknown()
}

// postfix parses attribute access, subscription and calls.
func (p *parser) postfix(v val) val {
	for {
		pos := p.cur().pos
		switch {
		case p.acceptOp("."):
			t := p.advance()
			if t.kind != tName && t.kind != tInt {
				p.fail("expected an attribute name")
			}
			if t.kind == tInt {
				v = index(v, numVal(t.num))
				continue
			}
			p.a.checkName(t.text, pos, "attribute access")
			if p.isOp("(") {
				args, kwargs := p.callArgs()
				v = p.a.noteBuilt(method(p.a, v, t.text, args, kwargs, pos), pos)
				continue
			}
			v = unknown()
		case p.acceptOp("["):
			v = p.subscript(v, pos)
		case p.isOp("("):
			args, kwargs := p.callArgs()
			v = call(v, args, kwargs)
		default:
			return v
		}
	}
}

// subscript parses x[key] or x[a:b:c]; '[' has been consumed.
func (p *parser) subscript(v val, pos int) val {
	var parts [3]*val
	isSlice := false
	n := 0
	for {
		if p.isOp(":") {
			isSlice = true
			p.advance()
			n++
			if n > 2 {
				p.fail("bad slice")
			}
			continue
		}
		if p.isOp("]") {
			break
		}
		e := p.parseExpr(true)
		parts[n] = &e
		if !p.isOp(":") {
			break
		}
	}
	p.expectOp("]")
	if !isSlice {
		if parts[0] == nil {
			p.fail("empty subscript")
		}
		key := *parts[0]
		if s, ok := key.asStrs(); ok && key.k == kStr {
			for _, x := range s {
				p.a.checkName(x, pos, "subscript")
			}
		} else if key.built {
			for _, f := range key.fragments() {
				if suspicious(f) {
					p.a.add(scan.SeverityCritical, false, pos, f, fmt.Sprintf("subscript with a key built at run time from %q", f))
					break
				}
			}
		}
		return index(v, key)
	}
	var nums [3]*int64
	for i, e := range parts {
		if e == nil {
			continue
		}
		if e.k != kNum {
			return unknown()
		}
		n := e.num
		nums[i] = &n
	}
	switch v.k {
	case kStr:
		out := make([]string, len(v.strs))
		for i, s := range v.strs {
			r := []rune(s)
			var b strings.Builder
			for _, j := range pySlice(len(r), nums[0], nums[1], nums[2]) {
				b.WriteRune(r[j])
			}
			out[i] = b.String()
		}
		return p.a.noteBuilt(strsVal(out, true), pos)
	case kList:
		var items []val
		for _, j := range pySlice(len(v.items), nums[0], nums[1], nums[2]) {
			items = append(items, v.items[j])
		}
		return listVal(items)
	}
	return mapStr(v, reverseString) // the pieces of an unknown string, either way round
}

func index(v, key val) val {
	if key.k != kNum {
		return unknown()
	}
	i := key.num
	switch v.k {
	case kList:
		if i < 0 {
			i += int64(len(v.items))
		}
		if i >= 0 && i < int64(len(v.items)) {
			return v.items[i]
		}
	case kStr:
		var out []string
		for _, s := range v.strs {
			r := []rune(s)
			j := i
			if j < 0 {
				j += int64(len(r))
			}
			if j >= 0 && j < int64(len(r)) {
				out = append(out, string(r[j]))
			}
		}
		if len(out) > 0 {
			return strsVal(out, true)
		}
	}
	return unknown()
}

// callArgs parses (args, key=value, *a, **kw); '(' is current.
func (p *parser) callArgs() ([]val, map[string]val) {
	p.expectOp("(")
	var args []val
	kwargs := map[string]val{}
	for !p.isOp(")") {
		switch {
		case p.acceptOp("**") || p.acceptOp("*"):
			p.parseExpr(true)
		case p.cur().kind == tName && p.peek().kind == tOp && p.peek().text == "=":
			name := p.advance().text
			p.advance()
			kwargs[name] = p.parseExpr(true)
		default:
			args = append(args, p.parseExpr(true))
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return args, kwargs
}

func call(fn val, args []val, kwargs map[string]val) val {
	switch fn.fn {
	case "dict":
		keys := make([]string, 0, len(kwargs))
		for k := range kwargs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return val{k: kDict, keys: keys}
	}
	return unknown()
}
