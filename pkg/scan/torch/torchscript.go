package torch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// TorchScript archives (torch.jit.save) hold pickles that only TorchScript's
// own C++ unpickler reads: torch.load hands any zip with a constants.pkl to
// torch.jit.load. That unpickler never imports Python: it resolves
// __torch__.* classes in the archive's compiled code and knows a fixed set of
// builder functions, and rejects every other global. So these pickles are
// judged against that set, not against Python's: a global outside it is
// reported (a Python payload that TorchScript would refuse, but that another
// loader reading the member with pickle would run).

// torchScriptGlobals are the globals TorchScript's unpickler resolves
// natively (torch/csrc/jit/serialization/unpickler.cpp).
var torchScriptGlobals = map[string]bool{
	"torch._utils._rebuild_tensor_v2":             true,
	"torch._utils._rebuild_qtensor":               true,
	"torch._utils._rebuild_sparse_tensor":         true,
	"torch.jit._pickle.build_intlist":             true,
	"torch.jit._pickle.build_tensorlist":          true,
	"torch.jit._pickle.build_doublelist":          true,
	"torch.jit._pickle.build_boollist":            true,
	"torch.jit._pickle.build_tensor_from_id":      true,
	"torch.jit._pickle.restore_type_tag":          true,
	"torch.jit._pickle.build_complexlist":         true,
	"collections.OrderedDict":                     true,
	"torch.device":                                true,
	"torch.distributed.rpc.RRef":                  true,
	"torch.distributed.rpc.rref_context.RRefData": true,
}

func torchScriptGlobal(name string) bool {
	if torchScriptGlobals[name] {
		return true
	}
	// Storage classes (torch.FloatStorage, ...) name dtypes in persistent ids.
	if rest, ok := strings.CutPrefix(name, "torch."); ok && strings.HasSuffix(rest, "Storage") && !strings.Contains(rest, ".") {
		return true
	}
	return strings.HasPrefix(name, "__torch__.")
}

// ScanTorchScriptPickle checks one pickle member of a TorchScript archive:
// every global it names must be one TorchScript's unpickler resolves itself.
// Others are reported as MV-PICKLE-UNKNOWN-GLOBAL (high).
func ScanTorchScriptPickle(ctx context.Context, s *scan.Session, member string, r io.Reader) error {
	globals, err := pickleGlobals(ctx, r, s.Limits().MaxOpcodes)
	for _, g := range globals {
		if !torchScriptGlobal(g.name) {
			s.Report(scan.Finding{RuleID: scan.RuleUnknownGlobal, Severity: scan.SeverityHigh, Member: member, Offset: g.off,
				Opcode: g.op, Symbol: g.name,
				Message: fmt.Sprintf("TorchScript pickle imports %s, which TorchScript's unpickler does not resolve: a Python payload for any other loader of this member", g.name)})
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.ReportError(member, err)
	}
	return nil
}

// IsTorchScriptPickle reports whether rest, a member path below a TorchScript
// archive's root folder, is one of the pickles TorchScript's unpickler reads.
func IsTorchScriptPickle(rest string) bool {
	switch {
	case rest == "data.pkl", rest == "constants.pkl", rest == "bytecode.pkl", rest == "mobile_info.pkl":
		return true
	case strings.HasPrefix(rest, "code/") && strings.HasSuffix(rest, ".debug_pkl"):
		return true
	}
	return false
}

type global struct {
	name string
	off  int64
	op   string
}

// pickleGlobals walks the opcodes of one pickle and lists the globals it
// names: GLOBAL and INST operands, and STACK_GLOBAL applied to the two
// strings pushed before it (anything else there is reported as a dynamic
// global with an empty module).
func pickleGlobals(ctx context.Context, r io.Reader, maxOps int64) ([]global, error) {
	br := bufio.NewReader(r)
	var off int64
	var out []global
	var strs []string // the most recent string pushes, for STACK_GLOBAL
	push := func(s string) {
		strs = append(strs, s)
		if len(strs) > 2 {
			strs = strs[1:]
		}
	}
	readN := func(n int64) ([]byte, error) {
		if n < 0 || n > 1<<30 {
			return nil, scan.Malformedf("pickle: length %d", n)
		}
		b := make([]byte, 0, min(n, 1<<16))
		lr := io.LimitReader(br, n)
		buf := make([]byte, min(n, 1<<16))
		for {
			m, err := lr.Read(buf)
			if len(b) < 256 {
				b = append(b, buf[:min(m, 256-len(b))]...)
			}
			off += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			n -= int64(m)
		}
		if n > 0 {
			return nil, scan.Malformedf("pickle: truncated")
		}
		return b, nil
	}
	line := func() (string, error) {
		s, err := br.ReadString('\n')
		off += int64(len(s))
		if err != nil {
			return "", scan.Malformedf("pickle: truncated")
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	uint := func(n int) (int64, error) {
		b, err := readN(int64(n))
		if err != nil {
			return 0, err
		}
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if v > 1<<62 {
			return 0, scan.Malformedf("pickle: length %d", v)
		}
		return int64(v), nil
	}
	for ops := int64(0); ; ops++ {
		if ops%4096 == 0 && ctx.Err() != nil {
			return out, ctx.Err()
		}
		if ops >= maxOps {
			return out, &scan.LimitError{Limit: "max-opcodes", Max: maxOps}
		}
		at := off
		op, err := br.ReadByte()
		if err != nil {
			return out, scan.Malformedf("pickle: no STOP opcode")
		}
		off++
		var n int64
		switch op {
		case '.':
			return out, nil
		case 'c', 'i':
			mod, err := line()
			if err != nil {
				return out, err
			}
			name, err := line()
			if err != nil {
				return out, err
			}
			opn := "GLOBAL"
			if op == 'i' {
				opn = "INST"
			}
			out = append(out, global{mod + "." + name, at, opn})
		case 0x93: // STACK_GLOBAL
			g := global{off: at, op: "STACK_GLOBAL"}
			if len(strs) == 2 {
				g.name = strs[0] + "." + strs[1]
			} else {
				g.name = "?"
			}
			out = append(out, g)
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p':
			if _, err := line(); err != nil {
				return out, err
			}
		case 'K', 'h', 'q', 0x80, 0x82:
			_, err = readN(1)
		case 'M', 0x83:
			_, err = readN(2)
		case 'J', 'j', 'r', 0x84:
			_, err = readN(4)
		case 'G', 0x95:
			_, err = readN(8)
		case 'U', 'C', 0x8c, 0x8a:
			if n, err = uint(1); err == nil {
				var b []byte
				if b, err = readN(n); err == nil && (op == 0x8c || op == 'U') {
					push(string(b))
				}
			}
		case 'T', 'X', 'B', 0x8b:
			if n, err = uint(4); err == nil {
				var b []byte
				if b, err = readN(n); err == nil && (op == 'X' || op == 'T') {
					push(string(b))
				}
			}
		case 0x8d, 0x8e, 0x96:
			if n, err = uint(8); err == nil {
				var b []byte
				if b, err = readN(n); err == nil && op == 0x8d {
					push(string(b))
				}
			}
		case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 'u', 't', ')', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x94, 0x97, 0x98:
		default:
			return out, scan.Malformedf("pickle: unknown opcode 0x%02x at %d", op, at)
		}
		if err != nil {
			return out, err
		}
	}
}
