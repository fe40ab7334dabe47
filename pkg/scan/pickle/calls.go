package pickle

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// plainLoaders are the nested loaders that run a plain, unrestricted
// Unpickler. Even on clean content they are reported: no library's own
// serialisation emits them, and they escape any restricted unpickler (such as
// torch.load(weights_only=True)) that the outer load used.
var plainLoaders = map[string]bool{
	"pickle.loads": true, "_pickle.loads": true, "pickle._loads": true, "cPickle.loads": true,
	"dill.loads": true, "cloudpickle.loads": true,
}

// global resolves an import as CPython's find_class does and judges it.
func (m *vm) global(module, name string, off int64, op string) (val, error) {
	if m.proto < 3 {
		if to, ok := py2Names[[2]string{module, name}]; ok {
			module, name = to[0], to[1]
		} else if to, ok := py2Modules[module]; ok {
			module = to
		}
	}
	g := &global{module: module, name: name, off: off, op: op}
	v := val{k: kGlobal, p: &obj{g: g}}
	if m.recordGlobals {
		m.imported = append(m.imported, g)
	}
	verdict, why := classify(module, name, m.policy)
	sym := g.symbol()
	if !isIdentifierPath(module) || !isIdentifierPath(name) {
		if verdict == gAllowed {
			verdict = gUnknown
		}
		why = "not a valid Python name, but an importer can still resolve it"
	} else {
		m.goodNames++
	}
	g.verdict = verdict
	switch verdict {
	case gUnknown:
		m.report(scan.RuleUnknownGlobal, scan.SeverityHigh, off, op, sym,
			fmt.Sprintf("imports %s, %s (default deny: only vetted globals are clean)", sym, why))
	case gCritical:
		m.report(scan.RuleDangerousGlobal, scan.SeverityCritical, off, op, sym, fmt.Sprintf("imports %s: %s", sym, why))
		g.finding = len(m.pending)
	case gDenied:
		m.report(scan.RulePolicyDenied, scan.SeverityCritical, off, op, sym, fmt.Sprintf("imports %s, which the scan policy denies", sym))
		g.finding = len(m.pending)
	case gLoader, gGetattr, gPartial, gEval:
		m.loaders = append(m.loaders, g)
	}
	return v, nil
}

// call emulates calling fn with args (REDUCE, NEWOBJ, OBJ, INST) and returns
// what static analysis knows of the result.
func (m *vm) call(fn, args val, off int64, op string) val {
	into(args)
	if fn.k != kGlobal {
		switch fn.k {
		case kUnknown, kObj:
			m.report(scan.RuleDynamicGlobal, scan.SeverityHigh, off, op, "",
				op+" calls an object computed at load time rather than an imported global")
		}
		return val{k: kUnknown}
	}
	g := fn.p.g
	var items []val
	if args.k == kTuple && args.p != nil {
		items = args.p.items
	}
	arg := func(i int) val {
		if i < len(items) {
			return items[i]
		}
		return val{k: kUnknown}
	}
	m.describeCall(g, items)
	switch sym := g.symbol(); {
	case g.verdict == gLoader:
		m.nestedLoad(g, arg(0), len(items) > 0, off, op)
		return val{k: kUnknown}
	case g.verdict == gGetattr:
		// A bound method pickles as getattr(instance, "name"). That is
		// clean only for an instance of an allowed class built in this
		// stream and a method the class defines; the result is a bound
		// method, and calling it later is a call of a computed object.
		inst, name := arg(0), arg(1)
		text, ok := m.text(name)
		if len(items) == 2 && op == "REDUCE" && inst.k == kObj && inst.p != nil && inst.p.g != nil &&
			inst.p.g.verdict == gAllowed && name.k == kStr && ok && builtin().methods[inst.p.g.symbol()+"."+text] {
			g.judged = true
		} else {
			g.escaped = true
		}
		return val{k: kUnknown}
	case g.verdict == gPartial:
		// torchvision models hold partial(nn.BatchNorm2d, eps=...) as a
		// layer factory. Building the partial calls nothing; it is clean
		// when what it wraps is an allowed global (others are reported on
		// their own import). The partial's BUILD state cannot swap in a
		// callable that was not imported and judged.
		if f := arg(0); op == "REDUCE" && len(items) >= 1 && f.k == kGlobal && f.p.g.verdict == gAllowed {
			g.judged = true
		} else {
			g.escaped = true
		}
		return val{k: kObj, p: &obj{g: g}}
	case g.verdict == gEval:
		// PaddlePaddle's paddle.save pickles a static-graph LoDTensor as
		// eval("data", {"data": array}): a name that the globals it is
		// given hold evaluates to that value and runs nothing. Any other
		// text is code, and a name the globals lack comes from builtins.
		name, globals := arg(0), arg(1)
		text, ok := m.text(name)
		if len(items) == 2 && op == "REDUCE" && name.k == kStr && ok && asciiIdentifier(text) && globals.k == kDict && m.holdsKey(globals, text) {
			g.judged = true
		} else {
			g.escaped = true
		}
		return val{k: kUnknown}
	case sym == "copyreg.add_extension":
		// Registers (module, name) under a code that EXT opcodes later fetch.
		mod, nm, code := arg(0), arg(1), arg(2)
		ms, ok1 := m.text(mod)
		ns, ok2 := m.text(nm)
		if mod.k == kStr && nm.k == kStr && code.k == kInt && ok1 && ok2 {
			m.ext[code.i] = [2]string{ms, ns}
		}
	case sym == "copyreg._reconstructor" || sym == "copyreg.__newobj__" || sym == "copyreg.__newobj_ex__":
		cls := arg(0)
		if cls.k != kGlobal {
			m.report(scan.RuleDynamicGlobal, scan.SeverityHigh, off, op, sym,
				sym+" rebuilds an instance of a class computed at load time")
			return val{k: kUnknown}
		}
		return val{k: kObj, p: &obj{g: cls.p.g}}
	case sym == "_codecs.encode":
		// bytes at protocol <= 2: the result is known when the text is.
		s, enc := arg(0), arg(1)
		text, ok1 := m.text(s)
		encoding, ok2 := m.text(enc)
		if s.k == kStr && enc.k == kStr && ok1 && ok2 && isLatin1(encoding) && int64(len(text)) <= m.lim.MaxLiteral {
			if b, ok := latin1(text); ok {
				return strVal(kBytes, string(b))
			}
		}
		return val{k: kBytes, p: &obj{lit: &litRef{len: -1}}}
	case sym == "numpy.dtype":
		str, _ := m.text(arg(0))
		return val{k: kObj, p: &obj{g: g, dt: &dtype{str: str}}}
	}
	return val{k: kObj, p: &obj{g: g}}
}

// asciiIdentifier reports whether s is an ASCII Python identifier, which
// eval reads as a name (non-ASCII names are NFKC-normalised first, so
// another spelling could name another key).
func asciiIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// holdsKey reports whether the dict d is known to hold the string key k.
func (m *vm) holdsKey(d val, k string) bool {
	items := m.itemsOf(d)
	for i := 0; i+1 < len(items); i += 2 {
		if t, ok := m.text(items[i]); ok && items[i].k == kStr && t == k {
			return true
		}
	}
	return false
}

// maxShownArg caps how much of one literal argument a message quotes.
const maxShownArg = 200

// describeCall adds to the finding of a critical import what its first call
// runs, when the stream has the arguments as literals: "called as
// posix.system('echo pwned')".
func (m *vm) describeCall(g *global, items []val) {
	if g.called || g.finding > len(m.pending) || g.finding == 0 && g.verdict != gGetattr && g.verdict != gEval {
		return
	}
	g.called = true
	var args []string
	literal := false
	for _, a := range items {
		switch a.k {
		case kStr, kBytes:
			if t, ok := m.text(a); ok {
				if len(t) > maxShownArg {
					t = t[:maxShownArg] + "..."
				}
				q := strconv.Quote(t)
				if a.k == kBytes {
					q = "b" + q
				}
				args = append(args, q)
				literal = true
				continue
			}
		case kInt:
			args = append(args, strconv.FormatInt(a.i, 10))
			literal = true
			continue
		case kNone:
			args = append(args, "None")
			continue
		case kGlobal:
			args = append(args, a.p.g.symbol())
			continue
		case kBool:
			args = append(args, map[bool]string{true: "True", false: "False"}[a.i != 0])
			continue
		}
		args = append(args, "?")
	}
	if !literal {
		return
	}
	text := fmt.Sprintf("; called as %s(%s)", g.symbol(), strings.Join(args, ", "))
	if g.finding == 0 {
		g.callText = text
		return
	}
	m.pending[g.finding-1].Message += text
}

func isLatin1(enc string) bool {
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
		return true
	}
	return false
}

// nestedLoad judges a call of a nested loader: a literal argument is scanned
// through the dispatcher; anything else escapes analysis.
func (m *vm) nestedLoad(g *global, a val, has bool, off int64, op string) {
	sym := g.symbol()
	if !has || (a.k != kBytes && a.k != kStr) || (a.p != nil && (a.p.lit == nil || a.p.lit.len < 0)) {
		g.escaped = true
		return
	}
	var (
		r    io.ReaderAt
		size int64
	)
	switch {
	case a.p != nil:
		r, size = io.NewSectionReader(m.ra, a.p.lit.off, a.p.lit.len), a.p.lit.len
	case a.n > 0 && a.s == "":
		r, size = io.NewSectionReader(m.ra, a.i, int64(a.n)), int64(a.n)
	default:
		r, size = bytes.NewReader([]byte(a.s)), int64(len(a.s))
	}
	member := sym + "@" + strconv.FormatInt(off, 10)
	res, err := m.s.Nested(m.ctx, member, r, size)
	g.judged = true
	if err != nil {
		g.escaped = true
		return
	}
	switch {
	case !res.Complete:
		m.report(scan.RuleNestedPickle, scan.SeverityCritical, off, op, sym,
			fmt.Sprintf("%s deserialises a %d-byte literal that could not be analysed completely (see %s)", sym, size, member))
	case res.Findings > 0 && res.MaxSeverity >= scan.SeverityMedium:
		// The call is as dangerous as what it loads, whatever --fail-on says.
		m.report(scan.RuleNestedPickle, res.MaxSeverity, off, op, sym,
			fmt.Sprintf("%s deserialises a %d-byte literal whose content has %s findings (see %s)", sym, size, res.MaxSeverity, member))
	case plainLoaders[sym]:
		m.report(scan.RuleNestedPickle, scan.SeverityHigh, off, op, sym,
			fmt.Sprintf("%s deserialises a second pickle with an unrestricted unpickler; its content is clean, but no library's own serialisation does this", sym))
	}
}

// build emulates BUILD: setting an instance's state.
func (m *vm) build(inst *val, state val, off int64) error {
	switch inst.k {
	case kGlobal:
		g := inst.p.g
		m.report(scan.RuleDynamicGlobal, scan.SeverityCritical, off, "BUILD", g.symbol(),
			"BUILD sets attributes of an imported object ("+g.symbol()+"), changing what later imports resolve to")
		return nil
	case kObj:
	default:
		return nil
	}
	o := inst.p
	if o.g == nil {
		return nil
	}
	switch o.g.symbol() {
	case "numpy.dtype":
		// state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
		if o.dt != nil && state.k == kTuple && state.p != nil && len(state.p.items) >= 8 {
			o.dt.elsize = state.p.items[5].i
			o.dt.flags = state.p.items[7].i
			o.dt.hasState = true
		}
	case "joblib.numpy_pickle.NumpyArrayWrapper":
		start := m.r.offset()
		v, inline, err := m.joblibArray(state, off)
		if !inline {
			// What joblib reads as data, pickle.load reads as opcodes: also
			// when the wrapper is too broken for joblib to read at all.
			if serr := m.shadowScan(start, m.r.offset()-start, off); serr != nil {
				return serr
			}
		}
		if err != nil {
			return err
		}
		*inst = v
	}
	return nil
}

// dictGet looks a key up in what is known of a dict's items.
func (m *vm) dictGet(d val, key string) (val, bool) {
	if d.k != kDict {
		return val{}, false
	}
	items := m.itemsOf(d)
	for i := 0; i+1 < len(items); i += 2 {
		if k := items[i]; k.k == kStr && k.p == nil && k.n == 0 && k.s == key {
			return items[i+1], true
		}
	}
	return val{}, false
}

// joblibArray follows joblib's NumpyUnpickler: after BUILD of a
// NumpyArrayWrapper, the array is read from the stream itself — a nested
// pickle for object arrays, else optional alignment padding and the raw
// bytes, which are skipped by size.
func (m *vm) joblibArray(state val, off int64) (v val, inline bool, err error) {
	shape, ok1 := m.dictGet(state, "shape")
	dt, ok2 := m.dictGet(state, "dtype")
	if !ok1 || !ok2 || shape.k != kTuple || dt.k != kObj || dt.p.dt == nil {
		return val{}, false, scan.Malformedf("joblib array wrapper at offset %d has no readable shape and dtype", off)
	}
	if shape.p == nil || shape.p.n > int64(len(shape.p.items)) {
		return val{}, false, scan.Malformedf("joblib array wrapper at offset %d has too many dimensions", off)
	}
	count := int64(1)
	for _, d := range shape.p.items {
		if d.k != kInt || d.i < 0 {
			return val{}, false, scan.Malformedf("joblib array wrapper at offset %d has a bad shape", off)
		}
		if d.i != 0 && count > (1<<62)/d.i {
			return val{}, false, errTruncated
		}
		count *= d.i
	}
	itemsize, object, ok := dtypeSize(dt.p.dt)
	if !ok {
		return val{}, false, scan.Malformedf("joblib array at offset %d has a dtype of unknown size (%q)", off, dt.p.dt.str)
	}
	if object {
		return val{k: kUnknown}, true, m.inlinePickle()
	}
	if a, ok := m.dictGet(state, "numpy_array_alignment_bytes"); ok && a.k == kInt {
		pad, err := m.uint(1)
		if err != nil {
			return val{}, false, err
		}
		if err := m.r.skip(int64(pad)); err != nil {
			return val{}, false, err
		}
	}
	if itemsize > 0 && count > (1<<62)/itemsize {
		return val{}, false, errTruncated
	}
	if err := m.r.skip(count * itemsize); err != nil {
		return val{}, false, err
	}
	return val{k: kUnknown}, false, nil
}

// shadowScan reads the bytes joblib treats as raw array data as a plain
// unpickler would: pickle.load on the same file parses them as opcodes. A
// payload hidden there is harmless under joblib.load but runs under
// pickle.load, so any import of a valid name that is not allowed is
// reported (importing a module runs its code). Ordinary array data fails to
// parse within a few bytes, and never spells an import.
func (m *vm) shadowScan(start, n, off int64) error {
	if m.depth >= m.lim.MaxDepth {
		return nil
	}
	// pickle.load goes on past the array into the rest of the stream. Each
	// shadow may run twice as many opcodes as joblib skipped bytes (at least
	// 64 Ki), and all shadows of a stream share one budget, so a file of
	// many wrappers stays linear; spending it is a limit, never a silent skip.
	ops := max(2*n, 1<<16)
	if m.shadowOps+ops > shadowBudget {
		return &scan.LimitError{Limit: "max-opcodes", Max: shadowBudget}
	}
	m.shadowOps += ops
	sh := newVM(m.ctx, m.s, m.ra, start, m.r.end)
	sh.depth = m.depth + 1
	sh.ext = m.ext
	sh.lim.MaxOpcodes = min(m.lim.MaxOpcodes, ops)
	sh.recordGlobals = true
	sh.one()
	for _, g := range sh.imported {
		if g.verdict == gAllowed || !isIdentifierPath(g.module) || !isIdentifierPath(g.name) {
			continue
		}
		m.report(scan.RuleDangerousGlobal, scan.SeverityCritical, g.off, g.op, g.symbol(),
			fmt.Sprintf("the bytes after the joblib array wrapper at offset %d, which joblib.load reads as array data, import %s when the file is loaded with pickle.load", off, g.symbol()))
	}
	return nil
}

// shadowBudget bounds the opcodes of all shadow scans of one stream.
const shadowBudget = 1 << 26

// inlinePickle runs the pickle that joblib stores inline for an object
// array: a fresh unpickler on the same stream, up to its STOP.
func (m *vm) inlinePickle() error {
	if m.depth >= m.lim.MaxDepth {
		return &scan.LimitError{Limit: "max-depth", Max: int64(m.lim.MaxDepth)}
	}
	saved := *m
	m.depth++
	m.stack, m.marks, m.memo, m.proto, m.loaders = nil, nil, memo{}, 0, nil
	_, err := m.exec()
	m.flushLoaders()
	// What the inner pickle found and spent belongs to the stream; only its
	// stack, marks and memo are its own.
	found, ops, ext, good, shadow := m.found, m.ops, m.ext, m.goodNames, m.shadowOps
	pending, imported, serial := m.pending, m.imported, m.serial
	*m = saved
	m.found, m.ops, m.ext, m.goodNames, m.shadowOps = found, ops, ext, good, shadow
	m.pending, m.imported, m.serial = pending, imported, serial
	return err
}

// dtypeSize returns a numpy dtype's item size and whether it holds Python
// objects, from the type string of numpy.dtype(...) and its BUILD state.
//
// numpy takes "holds objects" from the flags of the BUILD state as they are
// (NPY_ITEM_REFCOUNT), whatever the fields or subarray say: a structured
// dtype with an object field, a subarray of objects and any type string
// with the flag set are all pickled inline by joblib. An object type string
// whose state clears the flag has no size joblib could read safely: unknown.
func dtypeSize(o *dtype) (int64, bool, bool) {
	if o.hasState {
		if o.flags&1 != 0 { // NPY_ITEM_REFCOUNT: holds objects
			return 0, true, true
		}
		if s := strings.TrimLeft(o.str, "<>|="); strings.HasPrefix(s, "O") {
			return 0, false, false
		}
	}
	s := o.str
	if s == "" {
		return 0, false, false
	}
	if s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=' {
		s = s[1:]
	}
	if s == "" {
		return 0, false, false
	}
	if s[0] == 'O' {
		return 0, true, true
	}
	if o.hasState && o.elsize > 0 {
		return o.elsize, false, true
	}
	digits := strings.TrimLeft(s[1:], "")
	if i := strings.IndexByte(digits, '['); i >= 0 {
		digits = digits[:i]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		if s == "?" || s == "b" || s == "B" {
			return 1, false, true
		}
		return 0, false, false
	}
	switch s[0] {
	case 'U':
		return 4 * n, false, true // UCS-4 code points
	case 'b', 'i', 'u', 'f', 'c', 'M', 'm', 'S', 'V', 'a':
		return n, false, true
	}
	return 0, false, false
}
