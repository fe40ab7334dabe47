package python

// Expressions, from the loosest binding to the tightest, as the language
// reference's grammar orders them.

// starExprs parses star_expressions: one expression or a tuple.
func (p *parser) starExprs() *Node {
	first := p.starOrExpr()
	if !p.isOp(",") {
		return first
	}
	return p.starExprsRest(first)
}

func (p *parser) starExprsRest(first *Node) *Node {
	n := other(p.peek().line, first)
	for p.acceptOp(",") {
		if p.endOfExprList() {
			break
		}
		n.Kids = append(n.Kids, p.starOrExpr())
	}
	return n
}

// starExprsNamed is starExprs whose elements may be assignment expressions
// (an expression statement may be "x := 1" only in parentheses, but a
// match subject and other places take them).
func (p *parser) starExprsNamed() *Node {
	first := p.starOrNamed()
	if !p.isOp(",") {
		return first
	}
	n := other(p.peek().line, first)
	for p.acceptOp(",") {
		if p.endOfExprList() {
			break
		}
		n.Kids = append(n.Kids, p.starOrNamed())
	}
	return n
}

func (p *parser) endOfExprList() bool {
	t := p.peek()
	if t.kind == tNewline || t.kind == tEOF {
		return true
	}
	if t.kind == tOp {
		switch t.val {
		case ")", "]", "}", "=", ":", ";":
			return true
		}
		if len(t.val) >= 2 && t.val[len(t.val)-1] == '=' && !isCompare(t.val) {
			return true
		}
	}
	return t.kind == tName && (t.val == "in" || t.val == "if" || t.val == "for" || t.val == "async")
}

func (p *parser) starOrExpr() *Node {
	if p.acceptOp("*") {
		return other(p.peek().line, p.bitOr())
	}
	return p.expr()
}

func (p *parser) starOrNamed() *Node {
	if p.acceptOp("*") {
		return other(p.peek().line, p.bitOr())
	}
	return p.namedExpr()
}

// namedExpr parses NAME ":=" expr, or an expression.
func (p *parser) namedExpr() *Node {
	t := p.peek()
	if t.kind == tName && !keywords[t.val] && p.peekN(1).kind == tOp && p.peekN(1).val == ":=" {
		p.pos += 2
		v := p.expr()
		return &Node{Kind: NAssign, Line: t.line, Kids: []*Node{{Kind: NName, Name: t.val, Line: t.line}, v}}
	}
	return p.expr()
}

// expr parses a conditional expression or a lambda.
func (p *parser) expr() *Node {
	p.enter()
	defer p.leave()
	if p.isKw("lambda") {
		t := p.next()
		n := other(t.line, p.params(":", false)...)
		p.expectOp(":")
		n.Kids = append(n.Kids, p.expr())
		return n
	}
	e := p.orTest()
	if p.pattern == 0 && p.isKw("if") {
		// A comprehension's "if" follows an or_test, never an expression,
		// so an "if" here is a conditional expression.
		p.next()
		cond := p.orTest()
		p.expectKw("else")
		return other(e.Line, e, cond, p.expr())
	}
	return e
}

func (p *parser) orTest() *Node {
	e := p.andTest()
	for p.isKw("or") {
		p.next()
		e = other(e.Line, e, p.andTest())
	}
	return e
}

func (p *parser) andTest() *Node {
	e := p.notTest()
	for p.isKw("and") {
		p.next()
		e = other(e.Line, e, p.notTest())
	}
	return e
}

func (p *parser) notTest() *Node {
	if p.isKw("not") {
		t := p.next()
		p.enter()
		defer p.leave()
		return other(t.line, p.notTest())
	}
	return p.comparison()
}

func (p *parser) comparison() *Node {
	e := p.bitOr()
	for {
		t := p.peek()
		switch {
		case t.kind == tOp && (t.val == "<" || t.val == ">" || t.val == "==" || t.val == ">=" || t.val == "<=" || t.val == "!="):
			p.next()
		case t.kind == tName && t.val == "in":
			p.next()
		case t.kind == tName && t.val == "not" && p.peekN(1).kind == tName && p.peekN(1).val == "in":
			p.pos += 2
		case t.kind == tName && t.val == "is":
			p.next()
			p.acceptKw("not")
		default:
			return e
		}
		e = other(e.Line, e, p.bitOr())
	}
}

// binary parses left-associative operators of one level.
func (p *parser) binary(ops []string, sub func() *Node) *Node {
	e := sub()
	for {
		t := p.peek()
		if t.kind != tOp || !contains(ops, t.val) {
			return e
		}
		p.next()
		e = other(e.Line, e, sub())
	}
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func (p *parser) bitOr() *Node  { return p.binary([]string{"|"}, p.bitXor) }
func (p *parser) bitXor() *Node { return p.binary([]string{"^"}, p.bitAnd) }
func (p *parser) bitAnd() *Node { return p.binary([]string{"&"}, p.shift) }
func (p *parser) shift() *Node  { return p.binary([]string{"<<", ">>"}, p.arith) }
func (p *parser) arith() *Node  { return p.binary([]string{"+", "-"}, p.term) }
func (p *parser) term() *Node   { return p.binary([]string{"*", "/", "//", "%", "@"}, p.factor) }

func (p *parser) factor() *Node {
	t := p.peek()
	if t.kind == tOp && (t.val == "+" || t.val == "-" || t.val == "~") {
		p.next()
		p.enter()
		defer p.leave()
		return other(t.line, p.factor())
	}
	return p.power()
}

func (p *parser) power() *Node {
	var e *Node
	if p.isKw("await") {
		t := p.next()
		e = other(t.line, p.primary())
	} else {
		e = p.primary()
	}
	if p.acceptOp("**") {
		p.enter()
		defer p.leave()
		return other(e.Line, e, p.factor())
	}
	return e
}

// primary parses an atom and its trailers: attributes, calls, subscripts.
func (p *parser) primary() *Node {
	e := p.atom()
	for {
		t := p.peek()
		if t.kind != tOp {
			return e
		}
		switch t.val {
		case ".":
			p.next()
			name := p.peek()
			if name.kind != tName {
				p.fail("expected an attribute name")
			}
			p.next()
			e = &Node{Kind: NAttr, Line: name.line, Name: name.val, Kids: []*Node{e}}
		case "(":
			p.next()
			n := &Node{Kind: NCall, Line: t.line, Kids: []*Node{e}}
			n.Kids = append(n.Kids, p.callArgs()...)
			p.expectOp(")")
			e = n
		case "[":
			p.next()
			e = other(t.line, e, p.slices())
			p.expectOp("]")
		default:
			return e
		}
	}
}

// callArgs parses arguments up to ")" (not consumed).
func (p *parser) callArgs() []*Node {
	p.enter()
	defer p.leave()
	var out []*Node
	for !p.isOp(")") {
		t := p.peek()
		switch {
		case p.acceptOp("**"):
			out = append(out, &Node{Kind: NStar, Line: t.line, Name: "**", Kids: []*Node{p.expr()}})
		case p.acceptOp("*"):
			out = append(out, &Node{Kind: NStar, Line: t.line, Name: "*", Kids: []*Node{p.expr()}})
		case t.kind == tName && !keywords[t.val] && p.peekN(1).kind == tOp && p.peekN(1).val == "=":
			p.pos += 2
			out = append(out, &Node{Kind: NKeyword, Line: t.line, Name: t.val, Kids: []*Node{p.patternOrExpr()}})
		default:
			e := p.patternOrNamed()
			if p.isKw("for") || p.isKw("async") {
				e = p.comprehension(e)
			}
			out = append(out, e)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	return out
}

// patternOrExpr is an expression, or inside a case pattern a pattern.
func (p *parser) patternOrExpr() *Node {
	if p.pattern > 0 {
		return p.pattern1()
	}
	return p.expr()
}

func (p *parser) patternOrNamed() *Node {
	if p.pattern > 0 {
		return p.pattern1()
	}
	return p.namedExpr()
}

func (p *parser) slices() *Node {
	n := other(p.peek().line)
	for !p.isOp("]") {
		n.Kids = append(n.Kids, p.slice())
		if !p.acceptOp(",") {
			break
		}
	}
	return n
}

func (p *parser) slice() *Node {
	n := other(p.peek().line)
	if p.acceptOp("*") {
		n.Kids = append(n.Kids, p.bitOr())
		return n
	}
	if !p.isOp(":") {
		e := p.namedExpr()
		if !p.isOp(":") {
			return e
		}
		n.Kids = append(n.Kids, e)
	}
	p.expectOp(":")
	if !p.isOp(":") && !p.isOp("]") && !p.isOp(",") {
		n.Kids = append(n.Kids, p.expr())
	}
	if p.acceptOp(":") && !p.isOp("]") && !p.isOp(",") {
		n.Kids = append(n.Kids, p.expr())
	}
	return n
}

// comprehension parses the "for ... in ... if ..." clauses after elt.
func (p *parser) comprehension(elt *Node) *Node {
	n := other(elt.Line, elt)
	for p.isKw("for") || p.isKw("async") && p.peekN(1).val == "for" {
		p.acceptKw("async")
		t := p.next()
		target := p.targetList()
		p.expectKw("in")
		n.Kids = append(n.Kids, &Node{Kind: NAssign, Line: t.line, Kids: []*Node{target, p.orTest()}})
		for p.acceptKw("if") {
			n.Kids = append(n.Kids, p.orTest())
		}
	}
	return n
}

// targetList parses assignment targets of a for or del: star_targets.
func (p *parser) targetList() *Node {
	first := p.target()
	if !p.isOp(",") {
		return first
	}
	n := other(first.Line, first)
	for p.acceptOp(",") {
		if p.endOfExprList() {
			break
		}
		n.Kids = append(n.Kids, p.target())
	}
	return n
}

func (p *parser) target() *Node {
	if p.acceptOp("*") {
		return other(p.peek().line, p.bitOr())
	}
	return p.bitOr()
}

func (p *parser) yieldExpr() *Node {
	t := p.next() // yield
	if p.acceptKw("from") {
		return other(t.line, p.expr())
	}
	if p.endOfExprList() || p.isOp(")") {
		return other(t.line)
	}
	return other(t.line, p.starExprs())
}

func (p *parser) atom() *Node {
	t := p.peek()
	switch t.kind {
	case tName:
		switch t.val {
		case "None", "True", "False":
			p.next()
			return other(t.line)
		}
		if keywords[t.val] {
			p.fail("invalid syntax")
		}
		p.next()
		return &Node{Kind: NName, Line: t.line, Name: t.val}
	case tNumber:
		p.next()
		return other(t.line)
	case tString:
		return p.strings()
	case tOp:
		switch t.val {
		case "...":
			p.next()
			return other(t.line)
		case "(":
			p.next()
			return p.parenthesised(t)
		case "[":
			p.next()
			return p.listDisplay(t)
		case "{":
			p.next()
			return p.dictOrSet(t)
		case "-":
			if p.pattern > 0 { // a negative number in a pattern
				return p.factor()
			}
		}
	}
	p.fail("invalid syntax")
	return nil
}

// strings concatenates adjacent string literals; f-string fields are
// parsed as expressions and kept as children.
func (p *parser) strings() *Node {
	t := p.peek()
	n := &Node{Kind: NStr, Line: t.line}
	var text []string
	for p.peek().kind == tString {
		s := p.next()
		prefix, body, _ := cut(s.val)
		text = append(text, body)
		if containsByte(prefix, 'f') {
			n.Str = "" // an f-string is not a constant
			for _, f := range s.fields {
				n.Kids = append(n.Kids, p.subExpr(f))
			}
		}
	}
	if len(n.Kids) > 0 {
		return other(t.line, n.Kids...)
	}
	for _, s := range text {
		n.Str += s
	}
	return n
}

func cut(v string) (string, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == 0 {
			return v[:i], v[i+1:], true
		}
	}
	return "", v, false
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// subExpr parses an f-string replacement field's expression, with its
// "=" self-documenting marker removed.
func (p *parser) subExpr(f fstringField) *Node {
	src := trimRightSpace(f.src)
	if n := len(src); n > 0 && src[n-1] == '=' && (n < 2 || !containsByte("=!<>", src[n-2])) {
		src = src[:n-1]
	}
	toks, err := tokenize("("+src+")", len(p.toks)+len(src)+16, p.maxNest-p.depth)
	if err != nil {
		panic(bail{shiftLine(err, f.line-1)})
	}
	sub := &parser{toks: toks, depth: p.depth + 1, maxNest: p.maxNest}
	for i := range sub.toks {
		sub.toks[i].line += f.line - 1
	}
	e := sub.starExprsNamed()
	if sub.peek().kind != tNewline && sub.peek().kind != tEOF {
		sub.fail("f-string: invalid expression")
	}
	return e
}

func shiftLine(err error, by int) error {
	if se, ok := err.(*SyntaxError); ok {
		return &SyntaxError{se.Line + by, se.Msg}
	}
	return err
}

func trimRightSpace(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func (p *parser) parenthesised(t token) *Node {
	p.enter()
	defer p.leave()
	if p.acceptOp(")") {
		return other(t.line)
	}
	if p.isKw("yield") {
		e := p.yieldExpr()
		p.expectOp(")")
		return e
	}
	first := p.elem()
	if p.isKw("for") || p.isKw("async") {
		e := p.comprehension(first)
		p.expectOp(")")
		return e
	}
	if p.acceptOp(")") {
		return first
	}
	n := other(t.line, first)
	for p.acceptOp(",") {
		if p.isOp(")") {
			break
		}
		n.Kids = append(n.Kids, p.elem())
	}
	p.expectOp(")")
	return n
}

// elem is an element of a display: a starred expression, an assignment
// expression, or in a pattern a pattern.
func (p *parser) elem() *Node {
	if p.pattern > 0 {
		return p.pattern1()
	}
	return p.starOrNamed()
}

func (p *parser) listDisplay(t token) *Node {
	p.enter()
	defer p.leave()
	n := other(t.line)
	if p.acceptOp("]") {
		return n
	}
	first := p.elem()
	if p.isKw("for") || p.isKw("async") {
		e := p.comprehension(first)
		p.expectOp("]")
		return e
	}
	n.Kids = append(n.Kids, first)
	for p.acceptOp(",") {
		if p.isOp("]") {
			break
		}
		n.Kids = append(n.Kids, p.elem())
	}
	p.expectOp("]")
	return n
}

func (p *parser) dictOrSet(t token) *Node {
	p.enter()
	defer p.leave()
	n := other(t.line)
	if p.acceptOp("}") {
		return n
	}
	isDict := false
	for i := 0; ; i++ {
		if p.acceptOp("**") {
			isDict = true
			if p.pattern > 0 {
				p.name()
			} else {
				n.Kids = append(n.Kids, p.bitOr())
			}
		} else {
			k := p.elem()
			if i == 0 && p.isOp(":") || isDict {
				isDict = true
				p.expectOp(":")
				v := p.patternOrExpr()
				if i == 0 && (p.isKw("for") || p.isKw("async")) {
					e := p.comprehension(other(k.Line, k, v))
					p.expectOp("}")
					return e
				}
				n.Kids = append(n.Kids, k, v)
			} else {
				if i == 0 && (p.isKw("for") || p.isKw("async")) {
					e := p.comprehension(k)
					p.expectOp("}")
					return e
				}
				n.Kids = append(n.Kids, k)
			}
		}
		if !p.acceptOp(",") || p.isOp("}") {
			break
		}
	}
	p.expectOp("}")
	return n
}
