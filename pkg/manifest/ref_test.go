package manifest

import (
	"errors"
	"testing"
)

func TestParseRef(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, in string
		want     Ref
		ref      string
	}{
		{"a registry reference with a tag", "oci://localhost:5000/models/llama:v1",
			Ref{Scheme: SchemeRegistry, Registry: "localhost:5000", Repository: "models/llama", Tag: "v1"}, "v1"},
		{"a registry reference without a tag defaults to latest", "oci://ghcr.io/org/model",
			Ref{Scheme: SchemeRegistry, Registry: "ghcr.io", Repository: "org/model"}, "latest"},
		{"a registry reference with a digest", "oci://127.0.0.1:5000/m@" + d,
			Ref{Scheme: SchemeRegistry, Registry: "127.0.0.1:5000", Repository: "m", Digest: d}, d},
		{"a registry reference with a tag and a digest resolves the digest", "oci://r.example/m:v2@" + d,
			Ref{Scheme: SchemeRegistry, Registry: "r.example", Repository: "m", Tag: "v2", Digest: d}, d},
		{"a bare host reference is a registry reference", "localhost:5000/m:t",
			Ref{Scheme: SchemeRegistry, Registry: "localhost:5000", Repository: "m", Tag: "t"}, "t"},
		{"a layout reference with a tag", "oci-layout:///tmp/store:v1",
			Ref{Scheme: SchemeLayout, Layout: "/tmp/store", Tag: "v1"}, "v1"},
		{"a relative layout reference", "oci-layout://store",
			Ref{Scheme: SchemeLayout, Layout: "store"}, "latest"},
		{"a layout with a colon inside a directory name", "oci-layout://a:b/store",
			Ref{Scheme: SchemeLayout, Layout: "a:b/store"}, "latest"},
		{"a layout reference with a digest", "oci-layout://store@" + d,
			Ref{Scheme: SchemeLayout, Layout: "store", Digest: d}, d},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.Reference() != tt.ref {
				t.Fatalf("Reference() = %q, want %q", got.Reference(), tt.ref)
			}
			again, err := ParseRef(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseRef(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestParseRefRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"model",
		"library/model:v1",
		"https://example.com/m",
		"oci://",
		"oci://host",
		"oci://host/",
		"oci://host/Upper",
		"oci://host/m:bad tag",
		"oci://host/m@sha256:short",
		"oci://host/m@md5:abc",
		"oci-layout://",
		"oci-layout://:tag",
		"oci-layout://dir@sha256:zz",
	} {
		if r, err := ParseRef(in); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("ParseRef(%q) = %+v, %v; want ErrInvalidReference", in, r, err)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"oci://localhost:5000/a/b:c",
		"oci://h.example/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"oci-layout://dir:tag",
		"oci-layout:///abs/dir@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"localhost/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("error without ErrInvalidReference: %v", err)
			}
			return
		}
		again, err := ParseRef(r.String())
		if err != nil {
			t.Fatalf("ParseRef(%q).String() = %q does not parse: %v", s, r.String(), err)
		}
		if again != r {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, r)
		}
	})
}
