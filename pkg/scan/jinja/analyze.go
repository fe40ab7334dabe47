package jinja

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Issue is one way a template reaches past what a chat template needs.
type Issue struct {
	Severity scan.Severity
	// Include is true for include/import/extends: the template loads other
	// templates rather than reaching Python internals itself.
	Include bool
	// Pos is the byte offset of the construct in the template.
	Pos     int
	Symbol  string
	Message string
}

// Result is what Analyze found.
type Result struct {
	Issues []Issue
	// Err is set when the template could not be parsed. Issues then come
	// from a textual check of the template alone.
	Err error
}

// Options bound the analysis. The zero value uses the defaults.
type Options struct {
	// MaxNesting caps expression nesting. Default 200.
	MaxNesting int
}

// Analyze parses a Jinja2 template and reports constructs that reach Python
// internals: dunder and private attribute access however the name is
// spelled (attribute syntax, subscription, the attr filter, map/selectattr
// attribute arguments, str.format fields), names of modules and builtins
// that run code, and loads of other templates. String expressions are
// folded (concatenation, join, format, replace, case and reverse filters,
// slices, variables set to constants, loops over constant lists) before
// names are judged, so a name split into pieces is judged whole.
func Analyze(src string, opts Options) Result {
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = 200
	}
	tags, err := lexTemplate(src)
	if err != nil {
		return Result{Issues: textualIssues(src), Err: err}
	}
	a := &analyzer{env: map[string]val{}, maxDepth: opts.MaxNesting, seen: map[string]bool{}}
	// Two passes: the first learns what variables may hold, the second
	// judges with that knowledge (a value set later in the text may be used
	// earlier, inside a loop or a macro).
	for pass := 0; pass < 2; pass++ {
		a.report = pass == 1
		for _, t := range tags {
			if err := a.tag(t); err != nil {
				return Result{Issues: append(a.issues, textualIssues(src)...), Err: err}
			}
		}
	}
	return Result{Issues: a.issues}
}

// dunderRE finds Python special names in raw text.
var dunderRE = regexp.MustCompile(`__[A-Za-z][A-Za-z0-9_]*__`)

// codeWordRE finds the names of code-running modules and builtins in raw
// text.
var codeWordRE = regexp.MustCompile(`\b(os|popen|subprocess|eval|exec|import_module|importlib|__import__|builtins|getattr)\b`)

// textualIssues is the fallback check for a template that does not parse:
// Jinja would refuse it too, unless it uses syntax this parser lacks, so
// special names anywhere in it are judged as if used.
func textualIssues(src string) []Issue {
	var out []Issue
	seen := map[string]bool{}
	for _, loc := range dunderRE.FindAllStringIndex(src, -1) {
		name := src[loc[0]:loc[1]]
		if !seen[name] {
			seen[name] = true
			out = append(out, Issue{Severity: scan.SeverityCritical, Pos: loc[0], Symbol: name,
				Message: fmt.Sprintf("template that could not be parsed names Python internal %s", name)})
		}
	}
	// Code words count only inside tags: prose in the output text may
	// mention them.
	for _, m := range regexp.MustCompile(`\{[{%][\s\S]*?[%}]\}`).FindAllStringIndex(src, -1) {
		body := src[m[0]:m[1]]
		for _, loc := range codeWordRE.FindAllStringIndex(body, -1) {
			name := body[loc[0]:loc[1]]
			if !seen[name] {
				seen[name] = true
				out = append(out, Issue{Severity: scan.SeverityCritical, Pos: m[0] + loc[0], Symbol: name,
					Message: fmt.Sprintf("template that could not be parsed uses %s", name)})
			}
		}
	}
	return out
}

// dangerousNames are globals that, if a template can reach them, run code.
var dangerousNames = map[string]bool{
	"os": true, "sys": true, "subprocess": true, "popen": true, "eval": true, "exec": true,
	"execfile": true, "compile": true, "__import__": true, "importlib": true, "import_module": true,
	"builtins": true, "__builtins__": true, "globals": true, "locals": true, "getattr": true,
	"setattr": true, "delattr": true, "breakpoint": true, "posix": true, "pty": true, "socket": true,
	"shutil": true, "ctypes": true, "pickle": true, "marshal": true, "commands": true,
}

// dangerousAttrs are attribute names that lead to code, frames or the OS.
// Words that chat templates use as ordinary dictionary keys ("system",
// "open") are left out: reaching os.system needs a dunder or an os name
// first, and those are reported.
var dangerousAttrs = map[string]bool{
	"os": true, "sys": true, "subprocess": true, "popen": true, "Popen": true,
	"eval": true, "exec": true, "execfile": true, "compile": true, "import_module": true,
	"builtins": true, "check_output": true, "check_call": true, "getoutput": true,
	"getstatusoutput": true, "load_module": true, "func_globals": true, "func_code": true,
	"gi_frame": true, "gi_code": true, "f_globals": true, "f_locals": true, "f_back": true,
	"f_builtins": true, "cr_frame": true, "ag_frame": true, "tb_frame": true, "co_code": true,
	"mro": true, "im_func": true, "im_class": true, "environ": true, "getenv": true, "putenv": true,
	"fork": true, "forkpty": true, "startfile": true, "spawnl": true, "spawnv": true, "spawnlp": true,
	"spawnvp": true, "execl": true, "execv": true, "execlp": true, "execvp": true, "execve": true,
}

// globalFuncs are the functions Jinja and chat-template renderers provide.
var globalFuncs = map[string]bool{
	"range": true, "dict": true, "lipsum": true, "cycler": true, "joiner": true, "namespace": true,
	"raise_exception": true, "strftime_now": true,
}

type analyzer struct {
	env      map[string]val
	report   bool
	issues   []Issue
	seen     map[string]bool
	depth    int
	maxDepth int
}

func (a *analyzer) add(sev scan.Severity, include bool, pos int, symbol, msg string) {
	if !a.report {
		return
	}
	key := fmt.Sprintf("%d|%s|%s", sev, symbol, msg)
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.issues = append(a.issues, Issue{Severity: sev, Include: include, Pos: pos, Symbol: symbol, Message: msg})
}

// checkName judges one attribute name (or getitem key, which Jinja falls
// back to getattr for).
func (a *analyzer) checkName(name string, pos int, how string) {
	switch {
	case len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__"):
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches Python internal %s", how, name))
	case strings.HasPrefix(name, "_") && strings.Contains(name, "__"):
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches private name-mangled attribute %s", how, name))
	case strings.HasPrefix(name, "_"):
		a.add(scan.SeverityHigh, false, pos, name, fmt.Sprintf("%s reaches private attribute %s", how, name))
	case dangerousAttrs[name]:
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches %s, which runs code or touches the system", how, name))
	}
}

// suspicious reports whether a known piece of a run-time string looks like
// the start of a special name.
func suspicious(frag string) bool {
	return strings.Contains(frag, "__") || strings.HasPrefix(frag, "_") || dunderRE.MatchString(frag)
}

// checkDynamic judges an attribute name given as a value (attr filter,
// attribute= arguments): known names are checked; a name that cannot be
// known is itself a finding.
func (a *analyzer) checkDynamic(v val, pos int, how string) {
	if s, ok := v.asStrs(); ok {
		for _, x := range s {
			a.checkName(x, pos, how)
		}
		return
	}
	for _, f := range v.fragments() {
		if suspicious(f) {
			a.add(scan.SeverityCritical, false, pos, f, fmt.Sprintf("%s with a name built at run time from %q", how, f))
			return
		}
	}
	a.add(scan.SeverityHigh, false, pos, "", how+" with a name that cannot be determined statically")
}

// checkPath judges a dotted attribute path (selectattr, map(attribute=)).
func (a *analyzer) checkPath(v val, pos int, how string) {
	if s, ok := v.asStrs(); ok {
		for _, x := range s {
			for _, part := range strings.Split(x, ".") {
				a.checkName(part, pos, how)
			}
		}
		return
	}
	a.checkDynamic(v, pos, how)
}

// noteBuilt flags a string built at run time that spells a special name,
// even before it is used.
func (a *analyzer) noteBuilt(v val, pos int) val {
	if !v.built {
		return v
	}
	for _, s := range v.fragments() {
		if m := dunderRE.FindString(s); m != "" {
			a.add(scan.SeverityHigh, false, pos, m, fmt.Sprintf("string built at run time spells Python internal %s", m))
		}
	}
	return v
}

func (a *analyzer) bind(name string, v val) {
	if old, ok := a.env[name]; ok {
		v = union(old, v)
	}
	a.env[name] = v
}

// parseError aborts a tag's parse.
type parseError struct{ err error }

func (a *analyzer) tag(t tag) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = pe.err
		}
	}()
	p := &parser{a: a, toks: t.toks}
	switch t.kind {
	case tagVar:
		p.parseTuple(true)
		p.expectEOF()
	case tagBlock:
		p.statement()
	}
	return nil
}

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

// filterExpr parses "| filter" and "is test" chains.
func (p *parser) filterExpr(v val) val {
	for {
		switch {
		case p.acceptOp("|"):
			v = p.filter(v)
		case p.acceptName("is"):
			p.acceptName("not")
			p.expectName()
			for p.acceptOp(".") {
				p.expectName()
			}
			t := p.cur()
			switch {
			case p.isOp("("):
				p.callArgs()
			case (t.kind == tName && t.text != "else" && t.text != "or" && t.text != "and") ||
				t.kind == tString || t.kind == tInt || t.kind == tFloat || p.isOp("[") || p.isOp("{"):
				p.postfix(p.parsePrimary())
			}
			v = unknown()
		case p.isOp("("):
			args, kwargs := p.callArgs()
			v = call(v, args, kwargs)
		default:
			return v
		}
	}
}

// filter parses one filter (the '|' is consumed) and applies it to v.
func (p *parser) filter(v val) val {
	pos := p.cur().pos
	name := p.expectName()
	for p.acceptOp(".") {
		name += "." + p.expectName()
	}
	var args []val
	kwargs := map[string]val{}
	if p.isOp("(") {
		args, kwargs = p.callArgs()
	}
	arg := func(i int, kw string) (val, bool) {
		if i < len(args) {
			return args[i], true
		}
		x, ok := kwargs[kw]
		return x, ok
	}
	a := p.a
	if attr, ok := kwargs["attribute"]; ok {
		a.checkPath(attr, pos, name+"(attribute=...) filter")
	}
	switch name {
	case "attr":
		x, ok := arg(0, "name")
		if !ok {
			p.fail("attr filter without a name")
		}
		a.checkDynamic(x, pos, "attr filter")
		return unknown()
	case "map":
		if f, ok := arg(0, ""); ok {
			if s, ok := f.asStrs(); ok && slices.Contains(s, "attr") {
				x, ok := arg(1, "name")
				if !ok {
					x = unknown()
				}
				a.checkDynamic(x, pos, "map('attr') filter")
			} else if !ok {
				a.checkDynamic(f, pos, "map filter with a filter name")
			}
		}
		return unknown()
	case "selectattr", "rejectattr":
		if x, ok := arg(0, "attr"); ok {
			a.checkPath(x, pos, name+" filter")
		}
		return unknown()
	case "groupby":
		if x, ok := arg(0, "attribute"); ok {
			a.checkPath(x, pos, "groupby filter")
		}
		return unknown()
	case "join":
		sep, ok := arg(0, "d")
		if !ok {
			sep = strVal("")
		}
		switch v.k {
		case kList:
			return a.noteBuilt(joinItems(v.items, sep), pos)
		case kStr:
			if len(v.strs) == 1 {
				return a.noteBuilt(joinItems(chars(v.strs[0]).items, sep), pos)
			}
		}
		return builtUnknown(append(slices.Clone(v.fragments()), sep.fragments()...))
	case "lower":
		return a.noteBuilt(mapStr(v, strings.ToLower), pos)
	case "upper":
		return a.noteBuilt(mapStr(v, strings.ToUpper), pos)
	case "capitalize", "title":
		return a.noteBuilt(mapStr(v, func(s string) string {
			if s == "" {
				return s
			}
			r := []rune(strings.ToLower(s))
			r[0] = []rune(strings.ToUpper(string(r[0])))[0]
			return string(r)
		}), pos)
	case "trim":
		return a.noteBuilt(mapStr(v, strings.TrimSpace), pos)
	case "string", "e", "escape", "safe", "forceescape", "striptags":
		if v.k == kNum {
			return strVal(strconv.FormatInt(v.num, 10))
		}
		return v
	case "reverse":
		if v.k == kList {
			items := slices.Clone(v.items)
			slices.Reverse(items)
			return listVal(items)
		}
		return a.noteBuilt(mapStr(v, reverseString), pos)
	case "replace":
		old, ok1 := arg(0, "old")
		nw, ok2 := arg(1, "new")
		os1, k1 := old.asStrs()
		ns1, k2 := nw.asStrs()
		if ok1 && ok2 && k1 && k2 && len(os1) == 1 && len(ns1) == 1 {
			return a.noteBuilt(mapStr(v, func(s string) string { return strings.ReplaceAll(s, os1[0], ns1[0]) }), pos)
		}
		return builtUnknown(append(append(slices.Clone(v.fragments()), old.fragments()...), nw.fragments()...))
	case "format":
		return a.noteBuilt(pyFormat(v, args), pos)
	case "list":
		switch v.k {
		case kList:
			return v
		case kDict:
			items := make([]val, len(v.keys))
			for i, k := range v.keys {
				items[i] = strVal(k)
			}
			return listVal(items)
		case kStr:
			if len(v.strs) == 1 {
				return chars(v.strs[0])
			}
		}
		return unknown()
	case "first":
		if v.k == kDict && len(v.keys) > 0 {
			return strVal(v.keys[0])
		}
		return index(v, numVal(0))
	case "last":
		return index(v, numVal(-1))
	case "default", "d":
		if x, ok := arg(0, "default_value"); ok {
			return union(v, x)
		}
		return v
	}
	return unknown()
}

// method folds calls of string methods; other methods give unknown.
func method(a *analyzer, recv val, name string, args []val, kwargs map[string]val, pos int) val {
	if recv.k != kStr && !recv.built {
		return unknown()
	}
	switch name {
	case "format", "format_map":
		for _, f := range recv.fragments() {
			for _, attr := range formatFieldAttrs(f) {
				a.checkName(attr, pos, "str.format field")
			}
		}
		if recv.k == kStr && len(recv.strs) == 1 {
			if s, ok := braceFormat(recv.strs[0], args); ok {
				return strsVal([]string{s}, true)
			}
		}
		var fr []string
		for _, x := range args {
			fr = append(fr, x.fragments()...)
		}
		return builtUnknown(append(slices.Clone(recv.fragments()), fr...))
	case "join":
		if len(args) == 1 {
			switch args[0].k {
			case kList:
				return joinItems(args[0].items, recv)
			case kStr:
				if len(args[0].strs) == 1 {
					return joinItems(chars(args[0].strs[0]).items, recv)
				}
			}
		}
		var fr []string
		for _, x := range args {
			fr = append(fr, x.fragments()...)
		}
		return builtUnknown(append(slices.Clone(recv.fragments()), fr...))
	case "replace":
		if len(args) >= 2 {
			o, ok1 := args[0].asStrs()
			n, ok2 := args[1].asStrs()
			if ok1 && ok2 && len(o) == 1 && len(n) == 1 {
				return mapStr(recv, func(s string) string { return strings.ReplaceAll(s, o[0], n[0]) })
			}
		}
		return builtUnknown(recv.fragments())
	case "lower", "casefold":
		return mapStr(recv, strings.ToLower)
	case "upper":
		return mapStr(recv, strings.ToUpper)
	case "strip":
		if len(args) == 0 {
			return mapStr(recv, strings.TrimSpace)
		}
		if c, ok := args[0].asStrs(); ok && len(c) == 1 {
			return mapStr(recv, func(s string) string { return strings.Trim(s, c[0]) })
		}
	case "lstrip", "rstrip":
		cut := " \t\n\r\v\f"
		if len(args) > 0 {
			c, ok := args[0].asStrs()
			if !ok || len(c) != 1 {
				return builtUnknown(recv.fragments())
			}
			cut = c[0]
		}
		if name == "lstrip" {
			return mapStr(recv, func(s string) string { return strings.TrimLeft(s, cut) })
		}
		return mapStr(recv, func(s string) string { return strings.TrimRight(s, cut) })
	case "split":
		if recv.k == kStr && len(recv.strs) == 1 {
			var parts []string
			if len(args) == 0 {
				parts = strings.Fields(recv.strs[0])
			} else if s, ok := args[0].asStrs(); ok && len(s) == 1 && s[0] != "" {
				parts = strings.Split(recv.strs[0], s[0])
			} else {
				return unknown()
			}
			if len(parts) > maxItems {
				return unknown()
			}
			items := make([]val, len(parts))
			for i, x := range parts {
				items[i] = strVal(x)
			}
			return listVal(items)
		}
	}
	return builtUnknown(recv.fragments())
}
