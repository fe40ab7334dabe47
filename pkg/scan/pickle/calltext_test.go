package pickle_test

import (
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

// A critical finding says what the call would run when the stream holds the
// arguments as literals, quoted so that control characters stay visible.
func TestCriticalFindingShowsLiteralArguments(t *testing.T) {
	cases := []struct {
		name, pickle, want string
	}{
		{"os.system with a command", "\x80\x02cposix\nsystem\nX\x0b\x00\x00\x00echo pwned\n\x85R.", `called as posix.system("echo pwned\n")`},
		{"two arguments, one not literal", "\x80\x02cbuiltins\ngetattr\n]X\x03\x00\x00\x00pop\x86R.", `called as builtins.getattr(?, "pop")`},
		{"a call without literals", "\x80\x02cposix\nsystem\n]\x85R.", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := scanBytes(t, []byte(c.pickle), scan.Options{})
			var msg string
			for _, f := range tg.Findings {
				if f.Severity == scan.SeverityCritical {
					msg = f.Message
					break
				}
			}
			if msg == "" {
				t.Fatalf("no critical finding: %+v", tg.Findings)
			}
			if c.want == "" && strings.Contains(msg, "called as") || c.want != "" && !strings.Contains(msg, c.want) {
				t.Errorf("message %q, want %q", msg, c.want)
			}
		})
	}
}
