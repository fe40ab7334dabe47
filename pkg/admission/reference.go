package admission

import (
	"errors"
	"fmt"
	"strings"
)

// ErrReference is returned for an image or model reference that cannot be
// parsed.
var ErrReference = errors.New("invalid reference")

// maxReferenceLen bounds a reference; Kubernetes and registries reject much
// shorter names, and a bound keeps hostile input cheap.
const maxReferenceLen = 4096

// Reference is a parsed container-image style reference:
// [HOST[:PORT]/]PATH[:TAG][@ALGO:HEX]. Kubernetes image fields use this
// form, so references found in objects are read the way a container runtime
// reads them: a missing host is docker.io, and a single path element on
// docker.io gets the library/ prefix.
type Reference struct {
	Registry   string // host[:port], never empty
	Repository string // path inside the registry
	Tag        string // "" when absent
	Digest     string // "algo:hex", "" when absent
}

// ParseReference parses a container-image style reference. An oci:// prefix
// is accepted and removed.
func ParseReference(s string) (Reference, error) {
	orig := s
	if len(s) > maxReferenceLen {
		return Reference{}, fmt.Errorf("%w: longer than %d bytes", ErrReference, maxReferenceLen)
	}
	s = strings.TrimPrefix(s, "oci://")
	if s == "" {
		return Reference{}, fmt.Errorf("%w: empty", ErrReference)
	}
	var r Reference
	if i := strings.IndexByte(s, '@'); i >= 0 {
		r.Digest = s[i+1:]
		s = s[:i]
		if err := validDigest(r.Digest); err != nil {
			return Reference{}, fmt.Errorf("%w %q: %v", ErrReference, orig, err)
		}
	}
	// A tag follows the last colon after the last slash.
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], "/") {
		r.Tag = s[i+1:]
		s = s[:i]
		if !validTag(r.Tag) {
			return Reference{}, fmt.Errorf("%w %q: bad tag %q", ErrReference, orig, r.Tag)
		}
	}
	host, path, found := strings.Cut(s, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost" || strings.ToLower(host) != host) {
		host, path = "docker.io", s
	}
	if host == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if !validHost(host) {
		return Reference{}, fmt.Errorf("%w %q: bad registry host %q", ErrReference, orig, host)
	}
	if !validPath(path) {
		return Reference{}, fmt.Errorf("%w %q: bad repository %q", ErrReference, orig, path)
	}
	r.Registry, r.Repository = host, path
	return r, nil
}

// Name is REGISTRY/REPOSITORY.
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String is the canonical form: REGISTRY/REPOSITORY[:TAG][@DIGEST].
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Pinned reports whether the reference names a digest.
func (r Reference) Pinned() bool { return r.Digest != "" }

// WithDigest returns r pinned to digest, keeping the tag for readers.
func (r Reference) WithDigest(digest string) Reference {
	r.Digest = digest
	return r
}

func validDigest(d string) error {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || algo == "" {
		return errors.New("digest is not ALGO:HEX")
	}
	want := 0
	switch algo {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	default:
		return fmt.Errorf("unsupported digest algorithm %q", algo)
	}
	if len(hex) != want {
		return fmt.Errorf("%s digest has %d hex digits, want %d", algo, len(hex), want)
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return errors.New("digest is not lower-case hex")
		}
	}
	return nil
}

// validTag follows the distribution grammar: [\w][\w.-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !word && (i == 0 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	name, port, hasPort := strings.Cut(h, ":")
	if name == "" {
		return false
	}
	if hasPort {
		if port == "" || len(port) > 5 {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validPath follows the distribution grammar for path components: lower-case
// alphanumerics separated by one of '.', '_', '__' or runs of '-'.
func validPath(p string) bool {
	if p == "" {
		return false
	}
	for _, comp := range strings.Split(p, "/") {
		if comp == "" {
			return false
		}
		first, last := comp[0], comp[len(comp)-1]
		if !isAlnum(first) || !isAlnum(last) {
			return false
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
			if i > 0 && c == '.' && !isAlnum(comp[i-1]) {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
