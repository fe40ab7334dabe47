package admission

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name, in string
		want     string // canonical String(), "" for an error
	}{
		{"a docker hub short name gets docker.io/library", "nginx", "docker.io/library/nginx"},
		{"a docker hub user repo gets docker.io", "acme/model:v1", "docker.io/acme/model:v1"},
		{"a registry with a port keeps it", "127.0.0.1:5000/models/llama:v2", "127.0.0.1:5000/models/llama:v2"},
		{"localhost is a registry", "localhost/m", "localhost/m"},
		{"a digest is kept", "registry.test/models/x@" + d, "registry.test/models/x@" + d},
		{"tag and digest are both kept", "registry.test/models/x:v1@" + d, "registry.test/models/x:v1@" + d},
		{"an oci:// prefix is dropped", "oci://registry.test/models/x:v1", "registry.test/models/x:v1"},
		{"an empty reference is refused", "", ""},
		{"upper case in a path is refused", "registry.test/Models/x", ""},
		{"a short digest is refused", "registry.test/m@sha256:abc", ""},
		{"an unknown digest algorithm is refused", "registry.test/m@md5:" + strings.Repeat("a", 32), ""},
		{"a bad tag is refused", "registry.test/m:-x", ""},
		{"an empty path component is refused", "registry.test//m", ""},
		{"a bad port is refused", "registry.test:99999x/m", ""},
		{"a path ending in a separator is refused", "registry.test/m-", ""},
		{"spaces are refused", "registry.test/m x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrReference) {
					t.Fatalf("ParseReference(%q) = %v, %v; want ErrReference", tt.in, r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("ParseReference(%q) = %q, want %q", tt.in, got, tt.want)
			}
			again, err := ParseReference(r.String())
			if err != nil || again != r {
				t.Errorf("canonical form does not round-trip: %v, %v", again, err)
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"nginx", "registry.test/models/x:v1", "127.0.0.1:5000/a/b@sha256:" + strings.Repeat("0", 64), "oci://h/p:t", "a//b", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		again, err := ParseReference(r.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", r.String(), s, err)
		}
		if again != r {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, r)
		}
	})
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"registry.test/models/**", "registry.test/models/a/b/c", true},
		{"registry.test/models/**", "registry.test/models", false},
		{"registry.test/models/*", "registry.test/models/a", true},
		{"registry.test/models/*", "registry.test/models/a/b", false},
		{"registry.test/*/llama", "registry.test/team/llama", true},
		{"registry.test/m?", "registry.test/m1", true},
		{"registry.test/m?", "registry.test/m/", false},
		{"registry.test/models/x:v*", "registry.test/models/x:v1", true},
		{"**", "anything/at/all", true},
		{"registry.test/models", "registry.test/models-evil", false},
		{"*.test/**", "evil.com/x.test/y", false},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("glob %q on %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGlobIsLinear(t *testing.T) {
	// A backtracking matcher takes exponential time on this.
	g, err := compileGlob(strings.Repeat("*a", 200) + "b")
	if err != nil {
		t.Fatal(err)
	}
	if g.match(strings.Repeat("a", 4000)) {
		t.Fatal("matched without the final b")
	}
}
