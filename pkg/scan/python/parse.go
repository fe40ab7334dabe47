package python

import (
	"errors"
	"strings"
)

var (
	errTooManyTokens = errors.New("too many tokens")
	errTooDeep       = errors.New("nesting too deep")
)

var keywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

// Limits bound the parser.
type Limits struct {
	// MaxTokens caps the tokens of one file. Default 4,000,000 (the largest
	// file of CPython's standard library has about 100,000).
	MaxTokens int
	// MaxNesting caps brackets, indentation and expression recursion.
	// Default 200 (CPython allows 200 nested brackets and 100 indents).
	MaxNesting int
}

func (l Limits) withDefaults() Limits {
	if l.MaxTokens <= 0 {
		l.MaxTokens = 4_000_000
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = 200
	}
	return l
}

// Parse parses a Python 3 module (the grammar of Python 3.12) and returns
// its tree. A *SyntaxError says where the source is not Python; errors
// wrapping the limits say which was hit.
func Parse(src string, lim Limits) (*Node, error) {
	lim = lim.withDefaults()
	toks, err := tokenize(src, lim.MaxTokens, lim.MaxNesting)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, maxNest: lim.MaxNesting}
	return p.module()
}

type parser struct {
	toks    []token
	pos     int
	depth   int
	maxNest int
	pattern int // > 0 inside a match-case pattern
}

type bail struct{ err error }

func (p *parser) module() (mod *Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bail)
			if !ok {
				panic(r)
			}
			mod, err = nil, b.err
		}
	}()
	mod = &Node{Kind: NModule, Line: 1}
	for p.peek().kind != tEOF {
		if p.peek().kind == tNewline {
			p.pos++
			continue
		}
		mod.Kids = append(mod.Kids, p.statement()...)
	}
	return mod, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekN(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) fail(msg string) {
	t := p.peek()
	what := t.val
	switch t.kind {
	case tEOF:
		what = "end of file"
	case tNewline:
		what = "end of line"
	case tIndent:
		what = "indent"
	case tDedent:
		what = "dedent"
	}
	panic(bail{&SyntaxError{t.line, msg + " at " + quote(what)}})
}

func quote(s string) string { return "'" + s + "'" }

func (p *parser) isOp(v string) bool { t := p.peek(); return t.kind == tOp && t.val == v }

func (p *parser) isKw(v string) bool { t := p.peek(); return t.kind == tName && t.val == v }

func (p *parser) acceptOp(v string) bool {
	if p.isOp(v) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) acceptKw(v string) bool {
	if p.isKw(v) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectOp(v string) {
	if !p.acceptOp(v) {
		p.fail("expected " + quote(v))
	}
}

func (p *parser) expectKw(v string) {
	if !p.acceptKw(v) {
		p.fail("expected " + quote(v))
	}
}

func (p *parser) name() token {
	t := p.peek()
	if t.kind != tName || keywords[t.val] {
		p.fail("expected a name")
	}
	p.pos++
	return t
}

func (p *parser) enter() {
	p.depth++
	if p.depth > p.maxNest {
		panic(bail{errTooDeep})
	}
}

func (p *parser) leave() { p.depth-- }

// statement parses one statement; a line of simple statements gives several.
func (p *parser) statement() []*Node {
	t := p.peek()
	if t.kind == tIndent {
		p.fail("unexpected indent")
	}
	if t.kind == tName {
		switch t.val {
		case "if":
			return []*Node{p.ifStmt()}
		case "while":
			p.next()
			n := other(t.line, p.namedExpr())
			n.Kids = append(n.Kids, p.block()...)
			if p.acceptKw("else") {
				n.Kids = append(n.Kids, p.block()...)
			}
			return []*Node{n}
		case "for":
			return []*Node{p.forStmt()}
		case "try":
			return []*Node{p.tryStmt()}
		case "with":
			return []*Node{p.withStmt()}
		case "def":
			return []*Node{p.funcDef(nil)}
		case "class":
			return []*Node{p.classDef(nil)}
		case "async":
			switch p.peekN(1).val {
			case "def":
				p.next()
				return []*Node{p.funcDef(nil)}
			case "for":
				p.next()
				return []*Node{p.forStmt()}
			case "with":
				p.next()
				return []*Node{p.withStmt()}
			}
			p.fail("invalid syntax")
		case "match":
			if n := p.tryMatch(); n != nil {
				return []*Node{n}
			}
		}
	}
	if p.isOp("@") {
		var decos []*Node
		for p.acceptOp("@") {
			decos = append(decos, p.namedExpr())
			p.newline()
		}
		if p.acceptKw("async") {
			return []*Node{p.funcDef(decos)}
		}
		switch {
		case p.isKw("def"):
			return []*Node{p.funcDef(decos)}
		case p.isKw("class"):
			return []*Node{p.classDef(decos)}
		}
		p.fail("expected def or class after a decorator")
	}
	return p.simpleStmts()
}

func (p *parser) newline() {
	if p.peek().kind != tNewline {
		p.fail("expected end of line")
	}
	p.pos++
}

func (p *parser) simpleStmts() []*Node {
	var out []*Node
	for {
		out = append(out, p.smallStmt())
		if !p.acceptOp(";") {
			break
		}
		if p.peek().kind == tNewline {
			break
		}
	}
	p.newline()
	return out
}

// block parses ":" and a suite: simple statements on the same line or an
// indented block.
func (p *parser) block() []*Node {
	p.expectOp(":")
	if p.peek().kind != tNewline {
		return p.simpleStmts()
	}
	p.next()
	if p.peek().kind != tIndent {
		p.fail("expected an indented block")
	}
	p.next()
	p.enter()
	defer p.leave()
	var out []*Node
	for p.peek().kind != tDedent && p.peek().kind != tEOF {
		if p.peek().kind == tNewline {
			p.next()
			continue
		}
		out = append(out, p.statement()...)
	}
	if p.peek().kind == tDedent {
		p.next()
	}
	return out
}

// ifStmt parses if/elif/else. A chain of elif clauses is read in a loop,
// so its length costs no stack.
func (p *parser) ifStmt() *Node {
	t := p.next() // if
	n := other(t.line, p.namedExpr())
	n.Kids = append(n.Kids, p.block()...)
	for p.isKw("elif") {
		p.next()
		n.Kids = append(n.Kids, p.namedExpr())
		n.Kids = append(n.Kids, p.block()...)
	}
	if p.acceptKw("else") {
		n.Kids = append(n.Kids, p.block()...)
	}
	return n
}

func (p *parser) forStmt() *Node {
	t := p.next()
	target := p.targetList()
	p.expectKw("in")
	n := &Node{Kind: NAssign, Line: t.line, Kids: []*Node{target, p.starExprs()}}
	loop := other(t.line, n)
	loop.Kids = append(loop.Kids, p.block()...)
	if p.acceptKw("else") {
		loop.Kids = append(loop.Kids, p.block()...)
	}
	return loop
}

func (p *parser) tryStmt() *Node {
	t := p.next()
	n := other(t.line)
	n.Kids = append(n.Kids, p.block()...)
	handlers := 0
	for p.isKw("except") {
		p.next()
		handlers++
		p.acceptOp("*")
		if !p.isOp(":") {
			n.Kids = append(n.Kids, p.expr())
			if p.acceptOp(",") {
				n.Kids = append(n.Kids, p.starExprsRest(nil))
			}
			if p.acceptKw("as") {
				p.name()
			}
		}
		n.Kids = append(n.Kids, p.block()...)
	}
	if handlers > 0 && p.acceptKw("else") {
		n.Kids = append(n.Kids, p.block()...)
	}
	if p.acceptKw("finally") {
		handlers++
		n.Kids = append(n.Kids, p.block()...)
	}
	if handlers == 0 {
		p.fail("expected 'except' or 'finally' block")
	}
	return n
}

func (p *parser) withStmt() *Node {
	t := p.next()
	n := other(t.line)
	if p.isOp("(") {
		// Parenthesised with items, or an expression that starts with "(":
		// try the first, fall back on the second.
		save := p.pos
		if items, ok := p.tryParenWithItems(); ok {
			n.Kids = append(n.Kids, items...)
			n.Kids = append(n.Kids, p.block()...)
			return n
		}
		p.pos = save
	}
	for {
		n.Kids = append(n.Kids, p.withItem())
		if !p.acceptOp(",") {
			break
		}
	}
	n.Kids = append(n.Kids, p.block()...)
	return n
}

func (p *parser) tryParenWithItems() (items []*Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bail); !isBail {
				panic(r)
			}
			items, ok = nil, false
		}
	}()
	p.expectOp("(")
	for !p.isOp(")") {
		items = append(items, p.withItem())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	if !p.isOp(":") {
		return nil, false
	}
	return items, true
}

func (p *parser) withItem() *Node {
	e := p.expr()
	if p.acceptKw("as") {
		target := p.target()
		return &Node{Kind: NAssign, Line: e.Line, Kids: []*Node{target, e}}
	}
	return e
}

func (p *parser) typeParams() *Node {
	n := other(p.peek().line)
	if !p.acceptOp("[") {
		return nil
	}
	for !p.isOp("]") {
		if !p.acceptOp("**") {
			p.acceptOp("*")
		}
		p.name()
		if p.acceptOp(":") {
			n.Kids = append(n.Kids, p.expr())
		}
		if p.acceptOp("=") {
			n.Kids = append(n.Kids, p.expr())
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp("]")
	return n
}

func (p *parser) funcDef(decos []*Node) *Node {
	t := p.next() // def
	name := p.name()
	n := &Node{Kind: NDef, Line: t.line, Name: name.val, Kids: decos}
	if tp := p.typeParams(); tp != nil {
		n.Kids = append(n.Kids, tp)
	}
	p.expectOp("(")
	n.Kids = append(n.Kids, p.params(")", true)...)
	p.expectOp(")")
	if p.acceptOp("->") {
		n.Kids = append(n.Kids, p.expr())
	}
	n.Kids = append(n.Kids, p.block()...)
	return n
}

// params parses a parameter list up to end (")" for def, ":" for lambda)
// and returns the annotations and defaults.
func (p *parser) params(end string, annotations bool) []*Node {
	var out []*Node
	for !p.isOp(end) {
		switch {
		case p.acceptOp("/"):
		case p.acceptOp("**"):
			p.name()
			if annotations && p.acceptOp(":") {
				out = append(out, p.expr())
			}
		case p.acceptOp("*"):
			if p.peek().kind == tName {
				p.name()
				if annotations && p.acceptOp(":") {
					if p.acceptOp("*") {
						out = append(out, p.expr())
					} else {
						out = append(out, p.expr())
					}
				}
			}
		default:
			p.name()
			if annotations && p.acceptOp(":") {
				out = append(out, p.expr())
			}
			if p.acceptOp("=") {
				out = append(out, p.expr())
			}
		}
		if !p.acceptOp(",") {
			break
		}
	}
	return out
}

func (p *parser) classDef(decos []*Node) *Node {
	t := p.next()
	name := p.name()
	n := &Node{Kind: NClass, Line: t.line, Name: name.val, Kids: decos}
	if tp := p.typeParams(); tp != nil {
		n.Kids = append(n.Kids, tp)
	}
	if p.acceptOp("(") {
		n.Kids = append(n.Kids, p.callArgs()...)
		p.expectOp(")")
	}
	n.Kids = append(n.Kids, p.block()...)
	return n
}

// tryMatch parses a match statement, or returns nil (with the position
// unchanged) when "match" starts an ordinary statement.
func (p *parser) tryMatch() (n *Node) {
	save, pattern := p.pos, p.pattern
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
			p.pos, p.pattern = save, pattern
			n = nil
		}
	}()
	t := p.next()
	subject := p.starExprsNamed()
	p.expectOp(":")
	if p.peek().kind != tNewline {
		p.fail("expected end of line")
	}
	p.next()
	if p.peek().kind != tIndent || p.peekN(1).kind != tName || p.peekN(1).val != "case" {
		p.fail("expected case")
	}
	p.next()
	return p.matchBody(t, subject)
}

func (p *parser) matchBody(t token, subject *Node) (n *Node) {
	n = other(t.line, subject)
	p.enter()
	defer p.leave()
	for p.acceptKw("case") {
		p.pattern++
		n.Kids = append(n.Kids, p.patterns())
		p.pattern--
		if p.acceptKw("if") {
			n.Kids = append(n.Kids, p.namedExpr())
		}
		n.Kids = append(n.Kids, p.block()...)
		for p.peek().kind == tNewline {
			p.next()
		}
	}
	if p.peek().kind != tDedent {
		p.fail("expected case")
	}
	p.next()
	return n
}

func (p *parser) patterns() *Node {
	n := other(p.peek().line)
	for {
		n.Kids = append(n.Kids, p.pattern1())
		if !p.acceptOp(",") || p.isOp(":") || p.isKw("if") {
			break
		}
	}
	return n
}

// pattern1 parses one pattern: an or-pattern of primaries, with "as NAME".
// Patterns are a subset of expressions at the bitwise-or level, plus
// "as" and stars, so the expression parser reads them with p.pattern set.
func (p *parser) pattern1() *Node {
	var e *Node
	if p.isOp("*") {
		p.next()
		p.name()
		e = other(p.peek().line)
	} else {
		e = p.bitOr()
	}
	if p.acceptKw("as") {
		p.name()
	}
	return e
}

func (p *parser) smallStmt() *Node {
	t := p.peek()
	if t.kind == tName {
		switch t.val {
		case "pass", "break", "continue":
			p.next()
			return other(t.line)
		case "return":
			p.next()
			if p.endOfSimple() {
				return other(t.line)
			}
			return other(t.line, p.starExprs())
		case "raise":
			p.next()
			n := other(t.line)
			if !p.endOfSimple() {
				n.Kids = append(n.Kids, p.expr())
				if p.acceptKw("from") {
					n.Kids = append(n.Kids, p.expr())
				}
			}
			return n
		case "global", "nonlocal":
			p.next()
			for {
				p.name()
				if !p.acceptOp(",") {
					break
				}
			}
			return other(t.line)
		case "del":
			p.next()
			return other(t.line, p.targetList())
		case "assert":
			p.next()
			n := other(t.line, p.expr())
			if p.acceptOp(",") {
				n.Kids = append(n.Kids, p.expr())
			}
			return n
		case "import":
			return p.importStmt()
		case "from":
			return p.fromStmt()
		case "type":
			if n := p.peekN(1); n.kind == tName && !keywords[n.val] && (p.peekN(2).val == "=" || p.peekN(2).val == "[") && p.peekN(2).kind == tOp {
				p.next()
				name := p.name()
				tp := p.typeParams()
				p.expectOp("=")
				return &Node{Kind: NAssign, Line: t.line, Kids: []*Node{{Kind: NName, Name: name.val, Line: name.line}, other(t.line, tp, p.expr())}}
			}
		}
	}
	// Expression statement, assignment, augmented or annotated assignment.
	var first *Node
	if p.isKw("yield") {
		first = p.yieldExpr()
	} else {
		first = p.starExprsNamed()
	}
	switch {
	case p.isOp("="):
		n := &Node{Kind: NAssign, Line: t.line, Kids: []*Node{first}}
		for p.acceptOp("=") {
			if p.isKw("yield") {
				n.Kids = append(n.Kids, p.yieldExpr())
			} else {
				n.Kids = append(n.Kids, p.starExprs())
			}
		}
		return n
	case p.peek().kind == tOp && len(p.peek().val) >= 2 && strings.HasSuffix(p.peek().val, "=") && !isCompare(p.peek().val):
		p.next()
		if p.isKw("yield") {
			return other(t.line, first, p.yieldExpr())
		}
		return other(t.line, first, p.starExprs())
	case p.acceptOp(":"):
		ann := p.expr()
		if p.acceptOp("=") {
			var v *Node
			if p.isKw("yield") {
				v = p.yieldExpr()
			} else {
				v = p.starExprs()
			}
			return &Node{Kind: NAssign, Line: t.line, Kids: []*Node{first, v, ann}}
		}
		return other(t.line, first, ann)
	}
	return first
}

func isCompare(op string) bool { return op == "==" || op == "!=" || op == "<=" || op == ">=" }

func (p *parser) endOfSimple() bool {
	t := p.peek()
	return t.kind == tNewline || t.kind == tEOF || t.kind == tOp && t.val == ";"
}

func (p *parser) dotted() string {
	var b strings.Builder
	b.WriteString(p.name().val)
	for p.acceptOp(".") {
		b.WriteString(".")
		b.WriteString(p.name().val)
	}
	return b.String()
}

func (p *parser) importStmt() *Node {
	t := p.next()
	n := &Node{Kind: NImport, Line: t.line}
	for {
		line := p.peek().line
		mod := p.dotted()
		a := &Node{Kind: NAlias, Line: line, Name: mod}
		if p.acceptKw("as") {
			a.As = p.name().val
		}
		n.Kids = append(n.Kids, a)
		if !p.acceptOp(",") {
			break
		}
	}
	return n
}

func (p *parser) fromStmt() *Node {
	t := p.next()
	var mod strings.Builder
	for {
		switch {
		case p.acceptOp("."):
			mod.WriteString(".")
			continue
		case p.acceptOp("..."):
			mod.WriteString("...")
			continue
		}
		break
	}
	if !p.isKw("import") {
		mod.WriteString(p.dotted())
	}
	if mod.Len() == 0 {
		p.fail("expected a module")
	}
	p.expectKw("import")
	n := &Node{Kind: NImportFrom, Line: t.line, Name: mod.String()}
	if p.acceptOp("*") {
		n.Kids = append(n.Kids, &Node{Kind: NAlias, Line: t.line, Name: "*"})
		return n
	}
	paren := p.acceptOp("(")
	for {
		if paren && p.isOp(")") {
			break
		}
		nm := p.name()
		a := &Node{Kind: NAlias, Line: nm.line, Name: nm.val}
		if p.acceptKw("as") {
			a.As = p.name().val
		}
		n.Kids = append(n.Kids, a)
		if !p.acceptOp(",") {
			break
		}
	}
	if paren {
		p.expectOp(")")
	}
	return n
}
