package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/modelverify/modelverify/pkg/scan"
)

// kind is the static type of a value on the emulated stack.
type kind uint8

const (
	kUnknown kind = iota // a call's result, a persistent object, anything untracked
	kNone
	kBool
	kInt
	kFloat
	kStr
	kBytes
	kTuple
	kList
	kDict
	kSet
	kGlobal // an imported attribute (function, class, module, constant)
	kObj    // an instance built by calling an allowed class
)

// val is one emulated stack value. Scalars live in i and s; containers,
// globals and instances point at an obj. Containers keep a bounded number of
// items so that a pickle of millions of objects uses little memory.
type val struct {
	k kind
	// n is the length of a string or bytes literal left in the source at
	// offset i (s is then empty): most literals are never read back, so they
	// are not copied.
	n uint32
	i int64
	s string
	p *obj
}

// text returns the content of a string or bytes value, reading a literal
// left in the source; false when the content was not kept.
func (m *vm) text(v val) (string, bool) {
	if (v.k != kStr && v.k != kBytes) || v.p != nil {
		return "", false
	}
	if v.n > 0 && v.s == "" {
		b := make([]byte, v.n)
		if _, err := m.ra.ReadAt(b, v.i); err != nil {
			return "", false
		}
		return string(b), true
	}
	return v.s, true
}

// obj is the shared part of a container, global or instance.
type obj struct {
	items []val   // tuple, list or set items; dict keys and values interleaved
	n     int64   // item count, including those not kept
	g     *global // kGlobal: the global; kObj: the class it was built from
	lit   *litRef // a literal too large to keep
	dt    *dtype  // numpy dtype state, for kObj of numpy.dtype
}

// litRef is where a literal too large to keep lies in the source, for nested
// scans. A negative length marks bytes whose content is not known.
type litRef struct{ off, len int64 }

// dtype is what numpy.dtype(...) and its BUILD state say about a dtype.
type dtype struct {
	str      string // the type string, e.g. "f8" or "U20"
	elsize   int64
	flags    int64
	hasState bool
}

// maxItems is how many items a container keeps for analysis. Calls look at
// their first few arguments; joblib's array wrapper state has six keys.
const maxItems = 64

// global is one resolved import.
type global struct {
	module, name string
	verdict      verdictKind
	off          int64
	op           string
	escaped      bool // used other than as a loader call with a literal argument
	judged       bool // called at least once with a literal that was analysed
	// finding is 1 + the index in vm.pending of the finding that reported
	// the import (0: none), so that its first call can add the arguments.
	finding int
	called  bool
	// callText is the "; called as ..." text of a getattr, whose finding
	// is reported only when the pickle ends.
	callText string
}

func (g *global) symbol() string { return g.module + "." + g.name }

// maxFindings caps the findings one pickle stream reports; a hostile stream
// could otherwise produce one per opcode.
const maxFindings = 1000

// vm emulates CPython's C Unpickler over one stream.
type vm struct {
	ctx    context.Context
	s      *scan.Session
	ra     io.ReaderAt
	r      *reader
	lim    scan.Limits
	policy *scan.Policy

	stack []val
	marks []int
	// err is the first push past the stack limit (see push).
	err   error
	memo  memo
	proto int
	ext   map[int64][2]string // copyreg.add_extension registrations seen
	ops   int64
	found int
	depth int // nesting of inline joblib object-array pickles

	loaders []*global // nested-loader globals of the current pickle
	// imported lists the globals a shadow scan resolves.
	imported      []*global
	recordGlobals bool
	shadowOps     int64 // opcodes granted to shadow scans so far

	// goodNames counts imports of valid Python names: text that is not a
	// pickle imports none.
	goodNames int
	// Mutable containers carry no items of their own (a pickle of millions
	// of dicts would cost gigabytes): each has a serial number in val.i, and
	// only the most recently filled one keeps its first items, which is what
	// BUILD of joblib's array wrapper reads right after filling its state.
	serial int64
	recent struct {
		id    int64
		items []val
	}
	// pending holds findings until the stream is known to be a pickle.
	pending []scan.Finding
	// startedWithProto and completed (pickles that reached STOP) also mark
	// the stream as a pickle.
	startedWithProto bool
	completed        int
	// frameOverrun is set once a FRAME longer than the data left was seen.
	frameOverrun bool
}

func newVM(ctx context.Context, s *scan.Session, ra io.ReaderAt, off, end int64) *vm {
	return &vm{
		ctx: ctx, s: s, ra: ra, r: newReader(ra, off, end), lim: s.Limits(), policy: s.Policy(),
		ext: map[int64][2]string{},
	}
}

func (m *vm) report(rule string, sev scan.Severity, off int64, op, sym, msg string) {
	m.found++
	if m.found > maxFindings {
		return
	}
	if m.found == maxFindings {
		msg = fmt.Sprintf("%s (further findings in this stream are not reported)", msg)
	}
	m.pending = append(m.pending, scan.Finding{RuleID: rule, Severity: sev, Offset: off, Opcode: op, Symbol: sym, Message: msg})
}

// errStackUnderflow and friends are the UnpicklingErrors CPython raises.
var (
	errUnderflow = fmt.Errorf("%w: unpickling stack underflow", scan.ErrMalformed)
	errNoMark    = fmt.Errorf("%w: could not find MARK", scan.ErrMalformed)
)

// fence is the stack length below which pops are refused: the top mark, as
// in CPython's C unpickler.
func (m *vm) fence() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

// push puts v on the stack. Past the stack limit it records the limit
// error instead; the error is sticky, and exec returns it before running
// the next opcode, so that no opcode handler checks each push.
func (m *vm) push(v val) {
	if m.err != nil {
		return
	}
	if len(m.stack) >= m.lim.MaxStack {
		m.err = &scan.LimitError{Limit: "max-stack", Max: int64(m.lim.MaxStack)}
		return
	}
	m.stack = append(m.stack, v)
}

func (m *vm) pop() (val, error) {
	if len(m.stack) <= m.fence() {
		return val{}, errUnderflow
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

// pop2 pops the top two values and returns them in stack order: a callable
// and its arguments for REDUCE and NEWOBJ.
func (m *vm) pop2() (val, val, error) {
	b, err := m.pop()
	if err != nil {
		return val{}, val{}, err
	}
	a, err := m.pop()
	return a, b, err
}

func (m *vm) top() (*val, error) {
	if len(m.stack) <= m.fence() {
		return nil, errUnderflow
	}
	return &m.stack[len(m.stack)-1], nil
}

// popMark removes the top mark and returns the values above it.
func (m *vm) popMark() ([]val, error) {
	if len(m.marks) == 0 {
		return nil, errNoMark
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := m.stack[k:]
	m.stack = m.stack[:k]
	return items, nil
}

// into records that v was placed inside a container, an argument list or an
// object's state: a nested loader used that way escapes analysis.
func into(v val) {
	if v.k == kGlobal && (v.p.g.verdict == gLoader || v.p.g.verdict == gGetattr || v.p.g.verdict == gPartial || v.p.g.verdict == gEval) {
		v.p.g.escaped = true
	}
}

// container builds a container value from items, keeping at most maxItems.
func container(k kind, items []val) val {
	o := &obj{n: int64(len(items))}
	keep := items
	if len(keep) > maxItems {
		keep = keep[:maxItems]
	}
	o.items = append(make([]val, 0, len(keep)), keep...)
	for _, it := range items {
		into(it)
	}
	return val{k: k, p: o}
}

// newContainer makes an empty list, dict or set.
func (m *vm) newContainer(k kind) val {
	m.serial++
	return val{k: k, i: m.serial}
}

// add appends items to a container value in place.
func (m *vm) add(c *val, items []val, op string, off int64) {
	for i := range items {
		if items[i].k == kGlobal {
			into(items[i])
		}
	}
	if c.k == kGlobal {
		m.report(scan.RuleDynamicGlobal, scan.SeverityCritical, off, op, c.p.g.symbol(),
			op+" mutates an imported object: "+c.p.g.symbol())
		return
	}
	// Only dict items are ever read back (BUILD state); lists and sets keep
	// none.
	if c.k != kDict || c.i == 0 {
		return
	}
	if m.recent.id != c.i {
		m.recent.id = c.i
		m.recent.items = m.recent.items[:0]
	}
	if room := maxItems - len(m.recent.items); room > 0 {
		if len(items) > room {
			items = items[:room]
		}
		m.recent.items = append(m.recent.items, items...)
	}
}

// itemsOf returns what is known of a container's items.
func (m *vm) itemsOf(v val) []val {
	switch v.k {
	case kTuple:
		if v.p != nil {
			return v.p.items
		}
	case kList, kDict, kSet:
		if v.i != 0 && v.i == m.recent.id {
			return m.recent.items
		}
	}
	return nil
}

// run executes pickles from the reader's position until the end of the
// range: every pickle in the stream, as a loader calling load() repeatedly
// would see them. It returns the first error that ended a pickle.
func (m *vm) run() error {
	first := true
	for m.r.remaining() > 0 {
		start := m.r.offset()
		if first {
			if b, err := m.r.next(1); err == nil {
				m.startedWithProto = b[0] == opPROTO
				m.r.pos--
			}
		}
		_, err := m.one()
		if err == nil {
			m.completed++
		}
		if err != nil {
			if first || errors.Is(err, scan.ErrLimit) || m.ctx.Err() != nil {
				return err
			}
			// Bytes after a STOP that do not form a pickle: a loader calling
			// load() again fails on them, after running whatever came before
			// the failure (reported already).
			m.report(scan.RuleTrailingData, scan.SeverityLow, start, "", "",
				fmt.Sprintf("%d bytes after a pickle's STOP do not form a complete pickle: %v", m.r.end-start, err))
			return nil
		}
		first = false
	}
	return nil
}

// one executes a single pickle up to its STOP and returns the value it
// leaves.
func (m *vm) one() (val, error) {
	m.stack = m.stack[:0]
	m.marks = m.marks[:0]
	m.proto = 0
	m.loaders = m.loaders[:0]
	v, err := m.exec()
	m.flushLoaders()
	return v, err
}

// flushLoaders reports the nested loaders of the finished pickle that were
// used in any way other than a call on a literal that was analysed.
func (m *vm) flushLoaders() {
	for _, g := range m.loaders {
		switch g.verdict {
		case gGetattr:
			if g.escaped || !g.judged {
				m.report(scan.RuleDangerousGlobal, scan.SeverityCritical, g.off, g.op, g.symbol(),
					"imports "+g.symbol()+": a known code-execution primitive (reaches any attribute), not used as the bound method of an allowed class"+g.callText)
			}
			continue
		case gPartial:
			if g.escaped || !g.judged {
				m.report(scan.RuleDangerousGlobal, scan.SeverityCritical, g.off, g.op, g.symbol(),
					"imports "+g.symbol()+": in module functools, which gives code execution; not used to wrap an allowed global")
			}
			continue
		case gEval:
			if g.escaped || !g.judged {
				m.report(scan.RuleDangerousGlobal, scan.SeverityCritical, g.off, g.op, g.symbol(),
					"imports "+g.symbol()+": a known code-execution primitive, not used to look up a name that the globals it is given hold"+g.callText)
			}
			continue
		}
		if g.escaped || !g.judged {
			m.report(scan.RuleNestedPickle, scan.SeverityCritical, g.off, g.op, g.symbol(),
				g.symbol()+" deserialises data that is not a literal in the stream, so it cannot be analysed")
		}
	}
	m.loaders = m.loaders[:0]
}

func (m *vm) checkOps() error {
	m.ops++
	if m.ops > m.lim.MaxOpcodes {
		return &scan.LimitError{Limit: "max-opcodes", Max: m.lim.MaxOpcodes}
	}
	if m.ops&0xffff == 0 {
		if err := m.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// str makes a string value.
func strVal(k kind, s string) val { return val{k: k, s: s} }

// literal reads an n-byte string or bytes literal. Literals above
// MaxLiteral are skipped and remembered by position.
func (m *vm) literal(k kind, n int64) (val, error) {
	if n < 0 {
		return val{}, scan.Malformedf("negative byte count")
	}
	if n > m.r.remaining() {
		return val{}, errTruncated
	}
	if n > m.lim.MaxLiteral {
		off := m.r.offset()
		if err := m.r.skip(n); err != nil {
			return val{}, err
		}
		return val{k: k, p: &obj{lit: &litRef{off: off, len: n}}}, nil
	}
	if n > keepStr || n >= 1<<32 {
		off := m.r.offset()
		if err := m.r.skip(n); err != nil {
			return val{}, err
		}
		return val{k: k, n: uint32(n), i: off}, nil
	}
	b, err := m.r.next(int(n))
	if err != nil {
		return val{}, err
	}
	if k == kStr && !nameLike(b) {
		// Not a name: keep it by position only.
		return val{k: k, n: uint32(n), i: m.r.offset() - n}, nil
	}
	return strVal(k, string(b)), nil
}

// uint reads an n-byte little-endian unsigned integer.
func (m *vm) uint(n int) (uint64, error) {
	b, err := m.r.next(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// lineMax bounds protocol 0 text lines (numbers, names, repr strings).
func (m *vm) lineMax() int { return int(min(m.lim.MaxLiteral, 1<<30)) }

// intLine parses a protocol 0 integer line as CPython's int() would.
func parseIntLine(b []byte) (int64, bool) {
	s := string(bytes.TrimSpace(b))
	s = trimSuffixL(s)
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v, true
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	return 0, false
}

func trimSuffixL(s string) string {
	if n := len(s); n > 0 && (s[n-1] == 'L' || s[n-1] == 'l') {
		return s[:n-1]
	}
	return s
}

// persistentLoad is what a persistent id loads to. PyTorch's legacy format
// records each nn.Module class as ('module', cls, source_file, source), and
// its loader returns cls, which the stream imported (and this VM judged)
// inside the id; everything else (storages) is an opaque object.
func (m *vm) persistentLoad(pid val) val {
	if pid.k != kTuple || pid.p == nil || len(pid.p.items) < 2 {
		return val{k: kUnknown}
	}
	if name, ok := m.text(pid.p.items[0]); !ok || name != "module" || pid.p.items[1].k != kGlobal {
		return val{k: kUnknown}
	}
	return pid.p.items[1]
}
