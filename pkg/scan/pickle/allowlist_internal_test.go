package pickle

import (
	"strings"
	"testing"
)

// No class or function of the generated allowlist is critical: classify
// judges critical names first, so such an entry would be dead, and it would
// mean the generator admitted something it must not.
func TestAllowlistHasNoCriticalEntry(t *testing.T) {
	generated := builtin().entries
	if len(generated) < 1000 {
		t.Fatalf("%d generated entries", len(generated))
	}
	for _, e := range generated {
		if e.kind != "method" {
			if why := criticalReason(e.module, e.name); why != "" {
				t.Errorf("%s %s.%s is allowed but critical: %s", e.kind, e.module, e.name, why)
			}
		}
	}
	// The check itself tells a critical entry.
	if criticalReason("os", "system") == "" || criticalReason("torch", "load") == "" {
		t.Error("criticalReason does not flag os.system or torch.load")
	}
}

func TestParseAllowlistRejectsMalformedLines(t *testing.T) {
	for _, line := range []string{
		"class\tos\tsystem\tlib\t1\treason\textra",
		"klass\tnumpy\tndarray\tnumpy\t1\tdata",
		"class\tnumpy\tndarray.x\tnumpy\t1\tdata",
		"method\ttorch.optim\tAdam.__init__\ttorch\t1\tdunder",
		"class\tnot a module\tX\tlib\t1\tr",
	} {
		if _, err := parseAllowlist("# comment\n" + line + "\n"); err == nil {
			t.Errorf("accepted %q", strings.ReplaceAll(line, "\t", " | "))
		}
	}
	if e, err := parseAllowlist("class\tnumpy\tndarray\tnumpy\t1.24\tarray data\n"); err != nil || len(e) != 1 || e[0].name != "ndarray" {
		t.Errorf("well-formed line: %v %+v", err, e)
	}
}
