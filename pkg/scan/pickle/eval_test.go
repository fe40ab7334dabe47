package pickle_test

import (
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

// paddle.save pickles a static-graph LoDTensor as eval("data", {"data":
// array}): a lookup of a name that the globals it is given hold. Only that
// form is clean; eval of anything else stays critical.
func TestEvalIsCleanOnlyAsALookupInItsGlobals(t *testing.T) {
	const eval = "c__builtin__\neval\n"
	tests := []struct {
		name, data string
		clean      bool
	}{
		{"a name the globals hold", eval + "(Vdata\n(dVdata\nI1\nstR.", true},
		{"a name the globals hold, the key memoised", eval + "(Vdata\np0\n(dg0\nI1\nstR.", true},
		{"a name the globals lack comes from builtins", eval + "(Vexec\n(dVdata\nI1\nstR.", false},
		{"code, even when it is a key of the globals", eval + "(V__import__('os')\n(dV__import__('os')\nI1\nstR.", false},
		{"a non-ASCII name, which eval normalises", eval + "(V\\uff44ata\n(dV\\uff44ata\nI1\nstR.", false},
		{"locals as well as globals", eval + "(Vdata\n(dVdata\nI1\ns(dtR.", false},
		{"globals that are not a dict", eval + "(Vdata\n(lVdata\natR.", false},
		{"no globals", eval + "(VdatatR.", false},
		{"a dict whose items the scan no longer holds", eval + "(Vdata\n(dp1\nVdata\nI1\ns(dVx\nI2\ns0g1\ntR.", false},
		{"a second call with code", eval + "p0\n(Vdata\n(dVdata\nI1\nstR0g0\n(Vexec('x')\n(dtR.", false},
		{"eval kept in a list", "(l" + eval + "a.", false},
		{"eval called through OBJ", "(" + eval + "Vdata\n(dVdata\nI1\nso.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := scanBytes(t, []byte(tt.data), scan.Options{})
			var critical bool
			for _, f := range tg.Findings {
				critical = critical || f.RuleID == scan.RuleDangerousGlobal && f.Symbol == "builtins.eval" && f.Severity == scan.SeverityCritical
			}
			if tt.clean && (tg.Verdict != scan.VerdictClean || len(tg.Findings) != 0) || !tt.clean && !critical {
				t.Fatalf("verdict %s, findings %+v", tg.Verdict, tg.Findings)
			}
		})
	}
}
