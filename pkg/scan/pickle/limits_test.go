package pickle_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

func TestLimitsEndTheScanWithALimitFinding(t *testing.T) {
	memoBomb := append([]byte("\x80\x04N"), bytes.Repeat([]byte{0x94}, 5000)...)
	memoBomb = append(memoBomb, '.')
	stackBomb := append([]byte("\x80\x04"), bytes.Repeat([]byte("N"), 5000)...)
	markBomb := append([]byte("\x80\x04"), bytes.Repeat([]byte("("), 5000)...)
	opBomb := append([]byte("\x80\x04N"), bytes.Repeat([]byte("2"), 5000)...)
	longLine := append([]byte("S'"), bytes.Repeat([]byte("a"), 5000)...)
	bigLiteral := append([]byte("\x80\x04\x8e\x00\x10\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte("x"), 4096)...)
	tests := []struct {
		name   string
		data   []byte
		limits scan.Limits
		limit  string
	}{
		{"memo entries", memoBomb, scan.Limits{MaxMemo: 1000}, "max-memo"},
		{"stack depth", stackBomb, scan.Limits{MaxStack: 1000}, "max-stack"},
		{"mark depth", markBomb, scan.Limits{MaxStack: 1000}, "max-stack"},
		{"opcode count", opBomb, scan.Limits{MaxOpcodes: 1000, MaxStack: 10000}, "max-opcodes"},
		{"protocol 0 line length", longLine, scan.Limits{MaxLiteral: 1000}, "max-literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanBytes(t, tt.data, scan.Options{Limits: tt.limits})
			if got.Verdict != scan.VerdictMalformed {
				t.Fatalf("verdict %s, want malformed", got.Verdict)
			}
			found := false
			for _, f := range got.Findings {
				if f.RuleID == scan.RuleLimit && strings.Contains(f.Message, tt.limit) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s finding naming %s: %+v", scan.RuleLimit, tt.limit, got.Findings)
			}
		})
	}
	// A literal declared larger than the file is truncation, not an allocation.
	got := scanBytes(t, bigLiteral, scan.Options{})
	if got.Verdict != scan.VerdictMalformed || !strings.Contains(got.Error, "truncated") {
		t.Errorf("a lying literal length: verdict %s error %q, want malformed and truncated", got.Verdict, got.Error)
	}
}

func TestTextIsNotAPickle(t *testing.T) {
	for _, text := range []string{
		"# README\nSome text.\n",
		"copyright 2024\nall rights reserved\n",
		"[PAD]\n[UNK]\n[CLS]\n",
		"I am not a number\n",
		`{"architectures": ["BertModel"]}`,
		"cmod\n\xf8\n",
	} {
		got := scanBytes(t, []byte(text), scan.Options{})
		if got.Verdict != scan.VerdictUnsupported {
			t.Errorf("%q: verdict %s, want unsupported; findings %+v", text, got.Verdict, got.Findings)
		}
	}
}

func TestDangerousBeforeErrorWinsOverMalformed(t *testing.T) {
	data := []byte("\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85Rh\x63")
	got := scanBytes(t, data, scan.Options{})
	if got.Verdict != scan.VerdictDangerous {
		t.Fatalf("verdict %s, want dangerous", got.Verdict)
	}
	if !strings.Contains(got.Error, "memo value not found") {
		t.Errorf("the memo error after the call should still be recorded, got %q", got.Error)
	}
}

func TestPolicyAllowsAndDenies(t *testing.T) {
	custom := []byte("\x80\x04\x8c\x0cmypkg.models\x94\x8c\x03Net\x94\x93)\x81.")
	if got := scanBytes(t, custom, scan.Options{}); got.Verdict != scan.VerdictDangerous {
		t.Errorf("an unknown class without a policy: verdict %s, want dangerous (default deny)", got.Verdict)
	}
	allow := &scan.Policy{Allow: []string{"mypkg.*"}}
	if got := scanBytes(t, custom, scan.Options{Policy: allow}); got.Verdict != scan.VerdictClean {
		t.Errorf("allowed by policy: verdict %s, want clean: %+v", got.Verdict, got.Findings)
	}
	sys := []byte("\x80\x04\x8c\x05posix\x8c\x06system\x93.")
	if got := scanBytes(t, sys, scan.Options{Policy: &scan.Policy{Allow: []string{"posix.system"}}}); got.Verdict != scan.VerdictDangerous {
		t.Errorf("a policy cannot allow a critical primitive: verdict %s", got.Verdict)
	}
	od := []byte("\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R.")
	got := scanBytes(t, od, scan.Options{Policy: &scan.Policy{Deny: []string{"collections.OrderedDict"}}})
	if got.Verdict != scan.VerdictDangerous || got.Findings[0].RuleID != scan.RulePolicyDenied {
		t.Errorf("denied by policy: verdict %s findings %+v", got.Verdict, got.Findings)
	}
}

// Far memo indices cannot make the memo allocate blocks for the gaps, and
// their map is bounded.
func TestFarMemoIndicesStayCheap(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("\x80\x04N")
	for i := 0; i < 200; i++ {
		idx := uint32(i) * 300_000 // gaps of several blocks, all below denseMax
		b.Write([]byte{'r', byte(idx), byte(idx >> 8), byte(idx >> 16), byte(idx >> 24)})
	}
	b.WriteString("h\x00.")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := scanBytes(t, b.Bytes(), scan.Options{})
	runtime.ReadMemStats(&after)
	if got.Verdict != scan.VerdictClean {
		t.Errorf("verdict %s: %+v %s", got.Verdict, got.Findings, got.Error)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("200 far PUTs allocated %d MiB", alloc>>20)
	}
}
