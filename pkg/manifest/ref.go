package manifest

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Scheme says where a reference points.
type Scheme string

const (
	// SchemeRegistry is a repository in an OCI distribution registry.
	SchemeRegistry Scheme = "oci"
	// SchemeLayout is an OCI image layout directory on the local disk.
	SchemeLayout Scheme = "oci-layout"
)

// DefaultTag is used when a reference names neither a tag nor a digest.
const DefaultTag = "latest"

// Ref is a parsed model reference.
//
// For SchemeRegistry, Registry is HOST[:PORT] and Repository the repository
// path. For SchemeLayout, Layout is the layout directory. Tag and Digest are
// both optional; when Digest is set it is what is resolved, and Tag is kept
// for display (and for tagging on push).
type Ref struct {
	Scheme     Scheme
	Registry   string
	Repository string
	Layout     string
	Tag        string
	Digest     digest.Digest
}

// ParseRef parses oci://HOST/REPO[:TAG][@DIGEST] and
// oci-layout://DIR[:TAG][@DIGEST]. A reference without a scheme is accepted
// as oci:// when its first component looks like a host (it contains a dot or
// a port, or is "localhost"); anything else is refused rather than guessed to
// mean Docker Hub.
func ParseRef(s string) (Ref, error) {
	switch {
	case strings.HasPrefix(s, "oci://"):
		return parseRegistryRef(s, strings.TrimPrefix(s, "oci://"))
	case strings.HasPrefix(s, "oci-layout://"):
		return parseLayoutRef(s, strings.TrimPrefix(s, "oci-layout://"))
	case strings.Contains(s, "://"):
		return Ref{}, fmt.Errorf("%w: %q: unknown scheme (want oci:// or oci-layout://)", ErrInvalidReference, s)
	}
	host, _, ok := strings.Cut(s, "/")
	if ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		return parseRegistryRef(s, s)
	}
	return Ref{}, fmt.Errorf("%w: %q: want oci://HOST/REPO[:TAG|@DIGEST] or oci-layout://DIR[:TAG|@DIGEST]", ErrInvalidReference, s)
}

// splitDigest cuts a trailing @DIGEST off rest.
func splitDigest(orig, rest string) (string, digest.Digest, error) {
	i := strings.LastIndexByte(rest, '@')
	if i < 0 {
		return rest, "", nil
	}
	d := digest.Digest(rest[i+1:])
	if err := d.Validate(); err != nil {
		return "", "", fmt.Errorf("%w: %q: digest: %v", ErrInvalidReference, orig, err)
	}
	return rest[:i], d, nil
}

// splitTag cuts a trailing :TAG off rest; a colon before the last slash is
// part of a host port or a path, not a tag.
func splitTag(rest string) (string, string) {
	i := strings.LastIndexByte(rest, ':')
	if i < 0 || strings.LastIndexByte(rest, '/') > i {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func parseRegistryRef(orig, rest string) (Ref, error) {
	rest, dgst, err := splitDigest(orig, rest)
	if err != nil {
		return Ref{}, err
	}
	host, repoTag, ok := strings.Cut(rest, "/")
	if !ok || host == "" || repoTag == "" {
		return Ref{}, fmt.Errorf("%w: %q: want HOST/REPO", ErrInvalidReference, orig)
	}
	repo, tag := splitTag(repoTag)
	r := Ref{Scheme: SchemeRegistry, Registry: host, Repository: repo, Tag: tag, Digest: dgst}
	if err := r.validateRegistry(); err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, orig, err)
	}
	return r, nil
}

func (r Ref) validateRegistry() error {
	rr := registry.Reference{Registry: r.Registry, Repository: r.Repository}
	if err := rr.ValidateRegistry(); err != nil {
		return err
	}
	if err := rr.ValidateRepository(); err != nil {
		return err
	}
	if r.Tag != "" {
		rr.Reference = r.Tag
		if err := rr.ValidateReferenceAsTag(); err != nil {
			return err
		}
	}
	return nil
}

func parseLayoutRef(orig, rest string) (Ref, error) {
	rest, dgst, err := splitDigest(orig, rest)
	if err != nil {
		return Ref{}, err
	}
	dir, tag := splitTag(rest)
	if tag != "" {
		rr := registry.Reference{Reference: tag}
		if err := rr.ValidateReferenceAsTag(); err != nil {
			return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, orig, err)
		}
	}
	if dir == "" {
		return Ref{}, fmt.Errorf("%w: %q: empty layout directory", ErrInvalidReference, orig)
	}
	return Ref{Scheme: SchemeLayout, Layout: dir, Tag: tag, Digest: dgst}, nil
}

// Reference is what is resolved in the repository or layout: the digest if
// there is one, else the tag, else DefaultTag.
func (r Ref) Reference() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	if r.Tag != "" {
		return r.Tag
	}
	return DefaultTag
}

// TagOrDefault returns the tag, or DefaultTag when the reference has neither a
// tag nor a digest; it is empty for a digest-only reference.
func (r Ref) TagOrDefault() string {
	if r.Tag != "" {
		return r.Tag
	}
	if r.Digest != "" {
		return ""
	}
	return DefaultTag
}

// WithDigest returns r pinned to d (the tag is kept for display).
func (r Ref) WithDigest(d digest.Digest) Ref {
	r.Digest = d
	return r
}

// String returns the reference in the form ParseRef accepts.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(string(r.Scheme))
	b.WriteString("://")
	if r.Scheme == SchemeLayout {
		b.WriteString(r.Layout)
	} else {
		b.WriteString(r.Registry)
		b.WriteByte('/')
		b.WriteString(r.Repository)
	}
	if r.Tag != "" {
		b.WriteByte(':')
		b.WriteString(r.Tag)
	}
	if r.Digest != "" {
		b.WriteByte('@')
		b.WriteString(r.Digest.String())
	}
	return b.String()
}
