package pickle

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Opcodes, as in CPython's Lib/pickle.py.
const (
	opMARK             = '('
	opSTOP             = '.'
	opPOP              = '0'
	opPOP_MARK         = '1'
	opDUP              = '2'
	opFLOAT            = 'F'
	opINT              = 'I'
	opBININT           = 'J'
	opBININT1          = 'K'
	opLONG             = 'L'
	opBININT2          = 'M'
	opNONE             = 'N'
	opPERSID           = 'P'
	opBINPERSID        = 'Q'
	opREDUCE           = 'R'
	opSTRING           = 'S'
	opBINSTRING        = 'T'
	opSHORT_BINSTRING  = 'U'
	opUNICODE          = 'V'
	opBINUNICODE       = 'X'
	opAPPEND           = 'a'
	opBUILD            = 'b'
	opGLOBAL           = 'c'
	opDICT             = 'd'
	opEMPTY_DICT       = '}'
	opAPPENDS          = 'e'
	opGET              = 'g'
	opBINGET           = 'h'
	opINST             = 'i'
	opLONG_BINGET      = 'j'
	opLIST             = 'l'
	opEMPTY_LIST       = ']'
	opOBJ              = 'o'
	opPUT              = 'p'
	opBINPUT           = 'q'
	opLONG_BINPUT      = 'r'
	opSETITEM          = 's'
	opTUPLE            = 't'
	opEMPTY_TUPLE      = ')'
	opSETITEMS         = 'u'
	opBINFLOAT         = 'G'
	opPROTO            = 0x80
	opNEWOBJ           = 0x81
	opEXT1             = 0x82
	opEXT2             = 0x83
	opEXT4             = 0x84
	opTUPLE1           = 0x85
	opTUPLE2           = 0x86
	opTUPLE3           = 0x87
	opNEWTRUE          = 0x88
	opNEWFALSE         = 0x89
	opLONG1            = 0x8a
	opLONG4            = 0x8b
	opBINBYTES         = 'B'
	opSHORT_BINBYTES   = 'C'
	opSHORT_BINUNICODE = 0x8c
	opBINUNICODE8      = 0x8d
	opBINBYTES8        = 0x8e
	opEMPTY_SET        = 0x8f
	opADDITEMS         = 0x90
	opFROZENSET        = 0x91
	opNEWOBJ_EX        = 0x92
	opSTACK_GLOBAL     = 0x93
	opMEMOIZE          = 0x94
	opFRAME            = 0x95
	opBYTEARRAY8       = 0x96
	opNEXT_BUFFER      = 0x97
	opREADONLY_BUFFER  = 0x98
)

// opNames names opcodes in findings.
var opNames = func() (names [256]string) {
	for op, n := range map[byte]string{
		opGLOBAL: "GLOBAL", opSTACK_GLOBAL: "STACK_GLOBAL", opINST: "INST", opOBJ: "OBJ", opREDUCE: "REDUCE",
		opNEWOBJ: "NEWOBJ", opNEWOBJ_EX: "NEWOBJ_EX", opBUILD: "BUILD", opEXT1: "EXT1", opEXT2: "EXT2",
		opEXT4: "EXT4", opAPPEND: "APPEND", opAPPENDS: "APPENDS", opSETITEM: "SETITEM", opSETITEMS: "SETITEMS",
		opADDITEMS: "ADDITEMS", opPERSID: "PERSID", opBINPERSID: "BINPERSID", opDICT: "DICT", opLIST: "LIST",
		opFROZENSET: "FROZENSET",
	} {
		names[op] = n
	}
	for op := range names {
		if names[op] == "" {
			names[op] = fmt.Sprintf("0x%02x", op)
		}
	}
	return names
}()

func opName(op byte) string { return opNames[op] }

// highestProtocol is the newest protocol CPython reads.
const highestProtocol = 5

// exec runs opcodes until STOP and returns the value it pops.
func (m *vm) exec() (val, error) {
	r := m.r
	for {
		if m.err != nil { // a push past the stack limit in the last opcode
			return val{}, m.err
		}
		if err := m.checkOps(); err != nil {
			return val{}, err
		}
		off := r.offset()
		op, err := r.byte()
		if err != nil {
			return val{}, err
		}
		switch op {
		case opMARK:
			if len(m.marks) >= m.lim.MaxStack {
				return val{}, &scan.LimitError{Limit: "max-stack", Max: int64(m.lim.MaxStack)}
			}
			m.marks = append(m.marks, len(m.stack))
		case opSTOP:
			v, err := m.pop()
			if err != nil {
				return val{}, err
			}
			into(v)
			return v, nil
		case opPOP:
			if n := len(m.marks); n > 0 && m.marks[n-1] == len(m.stack) {
				m.marks = m.marks[:n-1]
			} else if _, err := m.pop(); err != nil {
				return val{}, err
			}
		case opPOP_MARK:
			if _, err := m.popMark(); err != nil {
				return val{}, err
			}
		case opDUP:
			t, err := m.top()
			if err != nil {
				return val{}, err
			}
			m.push(*t)
		case opFLOAT:
			if _, err := r.line(m.lineMax()); err != nil {
				return val{}, err
			}
			m.push(val{k: kFloat})
		case opBINFLOAT:
			if _, err := r.next(8); err != nil {
				return val{}, err
			}
			m.push(val{k: kFloat})
		case opINT:
			l, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			switch string(l) {
			case "00":
				m.push(val{k: kBool})
			case "01":
				m.push(val{k: kBool, i: 1})
			default:
				// A number CPython might parse where this does not becomes an
				// unknown value, never a stop: what follows it may still run.
				v, _ := parseIntLine(l)
				m.push(val{k: kInt, i: v})
			}
		case opLONG:
			l, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			v, _ := parseIntLine(l)
			m.push(val{k: kInt, i: v})
		case opBININT:
			v, err := m.uint(4)
			if err != nil {
				return val{}, err
			}
			m.push(val{k: kInt, i: int64(int32(uint32(v)))})
		case opBININT1:
			v, err := m.uint(1)
			if err != nil {
				return val{}, err
			}
			m.push(val{k: kInt, i: int64(v)})
		case opBININT2:
			v, err := m.uint(2)
			if err != nil {
				return val{}, err
			}
			m.push(val{k: kInt, i: int64(v)})
		case opLONG1, opLONG4:
			var n uint64
			if op == opLONG1 {
				n, err = m.uint(1)
			} else {
				n, err = m.uint(4)
				if err == nil && int32(uint32(n)) < 0 {
					return val{}, scan.Malformedf("LONG pickle has negative byte count")
				}
			}
			if err != nil {
				return val{}, err
			}
			if int64(n) > m.r.remaining() {
				return val{}, errTruncated
			}
			var v int64
			if n <= 8 {
				b, err := r.next(int(n))
				if err != nil {
					return val{}, err
				}
				for i := len(b) - 1; i >= 0; i-- {
					v = v<<8 | int64(b[i])
				}
				if n > 0 && n < 8 && b[n-1]&0x80 != 0 {
					v -= 1 << (8 * n)
				}
			} else if err := r.skip(int64(n)); err != nil {
				return val{}, err
			}
			m.push(val{k: kInt, i: v})
		case opNONE:
			m.push(val{k: kNone})
		case opNEWTRUE:
			m.push(val{k: kBool, i: 1})
		case opNEWFALSE:
			m.push(val{k: kBool})
		case opPERSID:
			if _, err := r.line(m.lineMax()); err != nil {
				return val{}, err
			}
			m.push(val{k: kUnknown})
		case opBINPERSID:
			pid, err := m.pop()
			if err != nil {
				return val{}, err
			}
			into(pid)
			m.push(m.persistentLoad(pid))
		case opSTRING:
			l, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			b, ok := decodeStringLiteral(l)
			if !ok {
				return val{}, scan.Malformedf("the STRING opcode argument must be quoted")
			}
			m.push(strVal(kStr, string(b)))
		case opBINSTRING, opBINUNICODE, opBINBYTES:
			n, err := m.uint(4)
			if err != nil {
				return val{}, err
			}
			size := int64(n)
			if op == opBINSTRING {
				size = int64(int32(uint32(n)))
			}
			v, err := m.literal(litKind(op), size)
			if err != nil {
				return val{}, err
			}
			m.push(v)
		case opSHORT_BINSTRING, opSHORT_BINBYTES, opSHORT_BINUNICODE:
			n, err := m.uint(1)
			if err != nil {
				return val{}, err
			}
			v, err := m.literal(litKind(op), int64(n))
			if err != nil {
				return val{}, err
			}
			m.push(v)
		case opBINUNICODE8, opBINBYTES8, opBYTEARRAY8:
			n, err := m.uint(8)
			if err != nil {
				return val{}, err
			}
			if n > math.MaxInt64 {
				return val{}, scan.Malformedf("literal size exceeds the maximum")
			}
			v, err := m.literal(litKind(op), int64(n))
			if err != nil {
				return val{}, err
			}
			m.push(v)
		case opUNICODE:
			l, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			s, ok := decodeRawUnicodeEscape(l)
			if !ok {
				return val{}, scan.Malformedf("truncated \\uXXXX escape in UNICODE")
			}
			m.push(strVal(kStr, s))
		case opNEXT_BUFFER:
			// Out-of-band buffers need a buffers argument that model loaders
			// never pass: CPython fails here.
			return val{}, scan.Malformedf("pickle stream refers to out-of-band data but no buffers argument was given")
		case opREADONLY_BUFFER:
			if _, err := m.top(); err != nil {
				return val{}, err
			}
		case opAPPEND:
			v, err := m.pop()
			if err != nil {
				return val{}, err
			}
			t, err := m.top()
			if err != nil {
				return val{}, err
			}
			m.add(t, []val{v}, "APPEND", off)
		case opAPPENDS, opSETITEMS, opADDITEMS:
			items, err := m.popMark()
			if err != nil {
				return val{}, err
			}
			t, err := m.top()
			if err != nil {
				return val{}, err
			}
			m.add(t, items, opName(op), off)
		case opSETITEM:
			v, err := m.pop()
			if err != nil {
				return val{}, err
			}
			k, err := m.pop()
			if err != nil {
				return val{}, err
			}
			t, err := m.top()
			if err != nil {
				return val{}, err
			}
			m.add(t, []val{k, v}, "SETITEM", off)
		case opTUPLE:
			items, err := m.popMark()
			if err != nil {
				return val{}, err
			}
			m.push(container(kTuple, items))
		case opDICT, opLIST, opFROZENSET:
			items, err := m.popMark()
			if err != nil {
				return val{}, err
			}
			k := kList
			switch op {
			case opDICT:
				k = kDict
			case opFROZENSET:
				k = kSet
			}
			c := m.newContainer(k)
			m.add(&c, items, opName(op), off)
			m.push(c)
		case opEMPTY_DICT:
			m.push(m.newContainer(kDict))
		case opEMPTY_LIST:
			m.push(m.newContainer(kList))
		case opEMPTY_SET:
			m.push(m.newContainer(kSet))
		case opEMPTY_TUPLE:
			m.push(val{k: kTuple, p: emptyTuple})
		case opTUPLE1, opTUPLE2, opTUPLE3:
			n := int(op-opTUPLE1) + 1
			if len(m.stack)-n < m.fence() {
				return val{}, errUnderflow
			}
			items := m.stack[len(m.stack)-n:]
			t := container(kTuple, items)
			m.stack = m.stack[:len(m.stack)-n]
			m.push(t)
		case opGET, opBINGET, opLONG_BINGET:
			var idx uint64
			switch op {
			case opGET:
				l, err := r.line(m.lineMax())
				if err != nil {
					return val{}, err
				}
				v, ok := parseIntLine(l)
				if !ok || v < 0 {
					return val{}, scan.Malformedf("invalid GET index %.20q", l)
				}
				idx = uint64(v)
			case opBINGET:
				idx, err = m.uint(1)
			default:
				idx, err = m.uint(4)
			}
			if err != nil {
				return val{}, err
			}
			v, ok := m.memo.get(idx)
			if !ok {
				return val{}, scan.Malformedf("memo value not found at index %d", idx)
			}
			m.push(v)
		case opPUT, opBINPUT, opLONG_BINPUT, opMEMOIZE:
			var idx uint64
			switch op {
			case opPUT:
				l, err := r.line(m.lineMax())
				if err != nil {
					return val{}, err
				}
				v, ok := parseIntLine(l)
				if !ok || v < 0 {
					return val{}, scan.Malformedf("invalid PUT index %.20q", l)
				}
				idx = uint64(v)
			case opBINPUT:
				idx, err = m.uint(1)
			case opLONG_BINPUT:
				idx, err = m.uint(4)
			default:
				idx = uint64(m.memo.len)
			}
			if err != nil {
				return val{}, err
			}
			t, err := m.top()
			if err != nil {
				return val{}, err
			}
			if m.memo.len >= m.lim.MaxMemo || m.memo.full(idx) {
				return val{}, &scan.LimitError{Limit: "max-memo", Max: int64(m.lim.MaxMemo)}
			}
			m.memo.put(idx, *t)
		case opPROTO:
			v, err := m.uint(1)
			if err != nil {
				return val{}, err
			}
			if v > highestProtocol {
				return val{}, scan.Malformedf("unsupported pickle protocol: %d", v)
			}
			m.proto = int(v)
		case opFRAME:
			n, err := m.uint(8)
			if err != nil {
				return val{}, err
			}
			// The C unpickler (pickle.load, torch.load) fails on a frame
			// longer than the data left, before running anything in it; the
			// Python one (which joblib's unpickler extends) reads what is
			// there and runs it. So the stream is scanned on as the Python
			// unpickler reads it, and the file is malformed unless what runs
			// is dangerous. Only the first pickle counts: after a STOP come
			// bytes of other kinds (storages, arrays) that merely look like
			// opcodes.
			if left := m.r.remaining(); int64(n) > left && m.completed == 0 && !m.frameOverrun {
				m.frameOverrun = true
				m.pending = append(m.pending, scan.Finding{RuleID: scan.RuleMalformed, Severity: scan.SeverityInfo,
					Offset: off, Opcode: "FRAME", Message: fmt.Sprintf(
						"%s: FRAME declares %d bytes, %d left in the stream: pickle.load and torch.load fail on it, joblib's unpickler runs what is there",
						scan.ErrMalformed, n, left)})
			}
		case opGLOBAL, opINST:
			mod, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			module := string(mod)
			nm, err := r.line(m.lineMax())
			if err != nil {
				return val{}, err
			}
			if !utf8.Valid(mod) || !utf8.Valid(nm) {
				// CPython decodes both lines as strict UTF-8 and fails here,
				// before anything is imported.
				return val{}, scan.Malformedf("%s name is not valid UTF-8", opName(op))
			}
			g, err := m.global(module, string(nm), off, opName(op))
			if err != nil {
				return val{}, err
			}
			if op == opGLOBAL {
				m.push(g)
				break
			}
			items, err := m.popMark()
			if err != nil {
				return val{}, err
			}
			args := container(kTuple, items)
			res := m.call(g, args, off, "INST")
			m.push(res)
		case opSTACK_GLOBAL:
			name, err := m.pop()
			if err != nil {
				return val{}, err
			}
			module, err := m.pop()
			if err != nil {
				return val{}, err
			}
			ms, ok1 := m.text(module)
			ns, ok2 := m.text(name)
			if module.k != kStr || name.k != kStr || !ok1 || !ok2 {
				sym := m.describe(module) + "." + m.describe(name)
				m.report(scan.RuleDynamicGlobal, scan.SeverityCritical, off, "STACK_GLOBAL", sym,
					"STACK_GLOBAL operands are not plain strings: the imported name is computed at load time ("+sym+")")
				into(module)
				into(name)
				m.push(val{k: kGlobal, p: &obj{g: &global{module: m.describe(module), name: m.describe(name), verdict: gCritical, off: off, op: "STACK_GLOBAL"}}})
				break
			}
			g, err := m.global(ms, ns, off, "STACK_GLOBAL")
			if err != nil {
				return val{}, err
			}
			m.push(g)
		case opEXT1, opEXT2, opEXT4:
			n := 1 << (op - opEXT1)
			code, err := m.uint(n)
			if err != nil {
				return val{}, err
			}
			c := int64(code)
			if n == 4 {
				c = int64(int32(uint32(code)))
			}
			if c <= 0 {
				return val{}, scan.Malformedf("EXT specifies code <= 0")
			}
			pair, ok := m.ext[c]
			if !ok {
				// Nothing in this stream registered the code, and CPython ships
				// none: the load fails unless the process registered it.
				m.report(scan.RuleExtension, scan.SeverityHigh, off, opName(op), fmt.Sprintf("ext:%d", c),
					fmt.Sprintf("extension code %d is not registered in this stream: it resolves to whatever the loading process registered", c))
				m.push(val{k: kGlobal, p: &obj{g: &global{module: "copyreg", name: fmt.Sprintf("ext%d", c), verdict: gUnknown, off: off, op: opName(op)}}})
				break
			}
			g, err := m.global(pair[0], pair[1], off, opName(op))
			if err != nil {
				return val{}, err
			}
			m.push(g)
		case opREDUCE, opNEWOBJ:
			fn, args, err := m.pop2()
			if err != nil {
				return val{}, err
			}
			m.push(m.call(fn, args, off, opName(op)))
		case opNEWOBJ_EX:
			kwargs, err := m.pop()
			if err != nil {
				return val{}, err
			}
			cls, args, err := m.pop2()
			if err != nil {
				return val{}, err
			}
			into(kwargs)
			m.push(m.call(cls, args, off, "NEWOBJ_EX"))
		case opOBJ:
			items, err := m.popMark()
			if err != nil {
				return val{}, err
			}
			if len(items) == 0 {
				return val{}, errUnderflow
			}
			cls := items[0]
			args := container(kTuple, items[1:])
			m.push(m.call(cls, args, off, "OBJ"))
		case opBUILD:
			state, err := m.pop()
			if err != nil {
				return val{}, err
			}
			inst, err := m.top()
			if err != nil {
				return val{}, err
			}
			into(state)
			if err := m.build(inst, state, off); err != nil {
				return val{}, err
			}
		default:
			return val{}, scan.Malformedf("invalid load key 0x%02x at offset %d", op, off)
		}
	}
}

var emptyTuple = &obj{}

func litKind(op byte) kind {
	switch op {
	case opBINBYTES, opSHORT_BINBYTES, opBINBYTES8, opBYTEARRAY8:
		return kBytes
	}
	return kStr // str, and Python 2 str decoded with the loader's encoding
}

// describe names a value in a finding.
func (m *vm) describe(v val) string {
	switch v.k {
	case kStr:
		if s, ok := m.text(v); ok && len(s) <= keepStr {
			return s
		}
		return "<long str>"
	case kGlobal:
		return "<" + v.p.g.symbol() + ">"
	case kBytes:
		return "<bytes>"
	case kInt:
		return fmt.Sprint(v.i)
	case kNone:
		return "None"
	case kTuple:
		return "<tuple>"
	case kDict:
		return "<dict>"
	case kList:
		return "<list>"
	case kObj:
		return "<computed>"
	}
	return "<computed>"
}
