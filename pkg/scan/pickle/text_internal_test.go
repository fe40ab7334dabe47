package pickle

import "testing"

// nameLike must agree with the string checks it stands in for.
func TestNameLikeAgreesWithTheStringChecks(t *testing.T) {
	for _, s := range []string{"", "os", "torch._utils", "_rebuild_tensor_v2", "12345", "1abc", "a..b", ".a", "a.",
		"latin-1", "<f8", "|b1", "U20", "hello world", "x\ny", "ünïcode", "ünïcode-with-dash", "a-b-c-d-e-f-g-h-i",
		"abcdefghijklmnopq", "abc.def.ghi.jkl.mno.pqr", "M8[ns]", "=", "--"} {
		want := isIdentifierPath(s) || isShortWord(s)
		if got := nameLike([]byte(s)); got != want {
			t.Errorf("%q: nameLike %v, string checks %v", s, got, want)
		}
	}
}
