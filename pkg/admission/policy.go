package admission

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/modelverify/modelverify/pkg/scan"
)

// ErrPolicy is returned for a policy file that cannot be read, parsed or
// compiled: a configuration error.
var ErrPolicy = errors.New("invalid policy")

// Policy document identifiers.
const (
	PolicyAPIVersion = "modelverify.dev/v1alpha1"
	PolicyKind       = "ModelPolicy"
)

// maxPolicySize bounds a policy file; real ones are a few kilobytes.
const maxPolicySize = 1 << 20

// PolicyDocument is the YAML policy file.
type PolicyDocument struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   Metadata   `yaml:"metadata"`
	Spec       PolicySpec `yaml:"spec"`
}

// Metadata names a policy.
type Metadata struct {
	Name string `yaml:"name"`
}

// PolicySpec is what a policy decides.
type PolicySpec struct {
	// Mode is "enforce" (the default: failures deny) or "warn" (failures
	// are returned as warnings and the object is allowed).
	Mode string `yaml:"mode"`
	// NoMatch is what happens to a reference that no rule matches: "deny"
	// (the default) or "allow".
	NoMatch string `yaml:"noMatch"`
	// RequireDigest makes /validate deny references governed by a verify
	// rule that are not pinned to a digest, so that what was verified is
	// what runs. The default is true; /mutate pins tags before /validate
	// sees them. `admit` resolves tags itself and ignores it.
	RequireDigest *bool `yaml:"requireDigest"`
	// Cache bounds the decision cache.
	Cache CacheSpec `yaml:"cache"`
	// Rules are tried in order; the first whose patterns match a
	// reference decides it.
	Rules []RuleSpec `yaml:"rules"`
}

// CacheSpec configures the decision cache. Zero values take the defaults.
type CacheSpec struct {
	// TTL is how long a decision about a digest is reused; default 5m,
	// at most 1h. "0s" is not accepted: use a small value instead.
	TTL string `yaml:"ttl"`
	// Size is the most digests remembered; default 10000.
	Size int `yaml:"size"`
	// NegativeTTL is how long a denial of a digest is reused; default
	// 30s, at most 5m. Denials are kept apart from admissions, so a flood
	// of bad references neither asks the registry again for each request
	// nor evicts cached admissions. A model that could not be checked
	// (registry unreachable) is never cached.
	NegativeTTL string `yaml:"negativeTTL"`
	// NegativeSize is the most denials remembered; default 1000.
	NegativeSize int `yaml:"negativeSize"`
}

// Rule actions.
const (
	ActionVerify = "verify" // the default: require a signature (and scan)
	ActionAllow  = "allow"  // admit without checks (e.g. system images)
	ActionDeny   = "deny"   // always refuse
)

// RuleSpec governs the references that its patterns match.
type RuleSpec struct {
	Name string `yaml:"name"`
	// Match holds reference patterns over REGISTRY/REPOSITORY (or the full
	// reference with tag or digest): "**" spans "/", "*" does not.
	// Docker Hub names are normalised: "nginx" is docker.io/library/nginx.
	// A pattern that starts with a scheme other than oci:// ("s3://b/**",
	// "hf://org/*") matches storage URIs instead, which cannot be verified:
	// only allow and deny rules may hold one.
	Match []string `yaml:"match"`
	// Action is verify (default), allow or deny.
	Action string `yaml:"action"`
	// Authorities: at least one must have signed the model.
	Authorities []AuthoritySpec `yaml:"authorities"`
	// Scan, when required, asks for a scan attestation signed by one of
	// the authorities.
	Scan ScanSpec `yaml:"scan"`
}

// AuthoritySpec is one trusted signer. Exactly one of Key, Keyless and
// Certificate is set.
type AuthoritySpec struct {
	Name        string           `yaml:"name"`
	Key         *KeySource       `yaml:"key"`
	Keyless     *KeylessSpec     `yaml:"keyless"`
	Certificate *CertificateSpec `yaml:"certificate"`
}

// Source is PEM or JSON material given inline (Data) or as a file (Path).
// A relative path is relative to the policy file.
type Source struct {
	Path string `yaml:"path"`
	Data string `yaml:"data"`
}

// KeySource is a public key: PEM inline (Data) or in a file (Path), or the
// public half of a key held in a KMS (KMS, a key URI such as
// awskms:///alias/NAME, gcpkms://..., azurekms://... or hashivault://...)
// or in a PKCS#11 token (PKCS11, an RFC 7512 pkcs11: URI; in builds with
// the pkcs11 tag). Such a key's public key is fetched when the policy is
// compiled: at start and at every reload, which a change to the policy file
// or to a file it names triggers. Exactly one of the four is set.
type KeySource struct {
	Source `yaml:",inline"`
	KMS    string `yaml:"kms"`
	PKCS11 string `yaml:"pkcs11"`
}

// KeylessSpec trusts Fulcio certificates for the listed identities, with
// transparency-log evidence checked against TrustedRoot (a Sigstore
// trusted_root.json file).
type KeylessSpec struct {
	TrustedRoot string         `yaml:"trustedRoot"`
	Identities  []IdentitySpec `yaml:"identities"`
}

// IdentitySpec is a certificate identity: an issuer and a subject, each
// exact or a regular expression.
type IdentitySpec struct {
	Issuer        string `yaml:"issuer"`
	IssuerRegExp  string `yaml:"issuerRegExp"`
	Subject       string `yaml:"subject"`
	SubjectRegExp string `yaml:"subjectRegExp"`
}

// CertificateSpec trusts signing certificates that chain to Roots.
type CertificateSpec struct {
	Roots      Source         `yaml:"roots"`
	Identities []IdentitySpec `yaml:"identities"`
}

// ScanSpec asks for a signed scan attestation.
type ScanSpec struct {
	Required bool `yaml:"required"`
	// MaxSeverity is the highest finding severity admitted; default low.
	MaxSeverity string `yaml:"maxSeverity"`
}

// ParsePolicy reads a policy document. Unknown fields are errors, so that a
// misspelt key never weakens a policy silently. Relative paths are resolved
// against baseDir.
func ParsePolicy(r io.Reader, baseDir string) (*PolicyDocument, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrPolicy, err)
	}
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrPolicy, maxPolicySize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc PolicyDocument
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrPolicy)
		}
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrPolicy)
	}
	if doc.APIVersion != PolicyAPIVersion || doc.Kind != PolicyKind {
		return nil, fmt.Errorf("%w: want apiVersion %s and kind %s, got %q and %q",
			ErrPolicy, PolicyAPIVersion, PolicyKind, doc.APIVersion, doc.Kind)
	}
	doc.resolvePaths(baseDir)
	return &doc, nil
}

// LoadPolicy reads a policy file.
func LoadPolicy(path string) (*PolicyDocument, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	defer f.Close()
	doc, err := ParsePolicy(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

func (d *PolicyDocument) resolvePaths(base string) {
	if base == "" {
		return
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for i := range d.Spec.Rules {
		for j := range d.Spec.Rules[i].Authorities {
			a := &d.Spec.Rules[i].Authorities[j]
			if a.Key != nil {
				a.Key.Path = abs(a.Key.Path)
			}
			if a.Keyless != nil {
				a.Keyless.TrustedRoot = abs(a.Keyless.TrustedRoot)
			}
			if a.Certificate != nil {
				a.Certificate.Roots.Path = abs(a.Certificate.Roots.Path)
			}
		}
	}
}

// Files lists the files the policy reads besides itself (keys, certificate
// roots, trusted roots), so that a change to one of them can reload it.
func (d *PolicyDocument) Files() []string {
	var out []string
	for _, r := range d.Spec.Rules {
		for _, a := range r.Authorities {
			switch {
			case a.Key != nil && a.Key.Path != "":
				out = append(out, a.Key.Path)
			case a.Keyless != nil:
				out = append(out, a.Keyless.TrustedRoot)
			case a.Certificate != nil && a.Certificate.Roots.Path != "":
				out = append(out, a.Certificate.Roots.Path)
			}
		}
	}
	return out
}

// Read returns the material, from Data or from the file at Path.
func (s Source) Read() ([]byte, error) {
	switch {
	case s.Data != "" && s.Path != "":
		return nil, errors.New("both path and data are set")
	case s.Data != "":
		return []byte(s.Data), nil
	case s.Path != "":
		f, err := os.Open(s.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxPolicySize {
			return nil, fmt.Errorf("%s: larger than %d bytes", s.Path, maxPolicySize)
		}
		return b, nil
	default:
		return nil, errors.New("neither path nor data is set")
	}
}

// Cache defaults and bounds.
const (
	DefaultCacheTTL  = 5 * time.Minute
	MaxCacheTTL      = time.Hour
	DefaultCacheSize = 10000
	maxCacheSize     = 1 << 20

	DefaultNegativeCacheTTL  = 30 * time.Second
	MaxNegativeCacheTTL      = 5 * time.Minute
	DefaultNegativeCacheSize = 1000
)

func (d *PolicyDocument) validate() error {
	s := &d.Spec
	switch s.Mode {
	case "", "enforce", "warn":
	default:
		return fmt.Errorf("spec.mode %q: want enforce or warn", s.Mode)
	}
	switch s.NoMatch {
	case "", "deny", "allow":
	default:
		return fmt.Errorf("spec.noMatch %q: want deny or allow", s.NoMatch)
	}
	if err := checkCache("ttl", s.Cache.TTL, MaxCacheTTL, "size", s.Cache.Size); err != nil {
		return err
	}
	if err := checkCache("negativeTTL", s.Cache.NegativeTTL, MaxNegativeCacheTTL, "negativeSize", s.Cache.NegativeSize); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, r := range s.Rules {
		where := fmt.Sprintf("spec.rules[%d]", i)
		if r.Name == "" {
			return fmt.Errorf("%s: name is required", where)
		}
		where = fmt.Sprintf("rule %q", r.Name)
		if names[r.Name] {
			return fmt.Errorf("%s: duplicate rule name", where)
		}
		names[r.Name] = true
		if len(r.Match) == 0 {
			return fmt.Errorf("%s: match needs at least one pattern", where)
		}
		switch r.Action {
		case "", ActionVerify:
			for _, m := range r.Match {
				if isURIPattern(m) {
					return fmt.Errorf("%s: match %q: %s:// storage URIs cannot be verified; use a rule with action allow or deny for them", where, m, URIScheme(m))
				}
			}
			if len(r.Authorities) == 0 {
				return fmt.Errorf("%s: a verify rule needs at least one authority", where)
			}
		case ActionAllow, ActionDeny:
			if len(r.Authorities) > 0 || r.Scan.Required {
				return fmt.Errorf("%s: action %s takes no authorities or scan", where, r.Action)
			}
		default:
			return fmt.Errorf("%s: action %q: want verify, allow or deny", where, r.Action)
		}
		if r.Scan.MaxSeverity != "" {
			if _, err := scan.ParseSeverity(r.Scan.MaxSeverity); err != nil {
				return fmt.Errorf("%s: scan.maxSeverity: %v", where, err)
			}
		}
		anames := map[string]bool{}
		for j, a := range r.Authorities {
			if a.Name == "" {
				return fmt.Errorf("%s: authorities[%d]: name is required", where, j)
			}
			if anames[a.Name] {
				return fmt.Errorf("%s: duplicate authority %q", where, a.Name)
			}
			anames[a.Name] = true
			if err := a.validate(); err != nil {
				return fmt.Errorf("%s: authority %q: %v", where, a.Name, err)
			}
		}
	}
	return nil
}

func (a AuthoritySpec) validate() error {
	n := 0
	for _, set := range []bool{a.Key != nil, a.Keyless != nil, a.Certificate != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("set exactly one of key, keyless, certificate")
	}
	switch {
	case a.Key != nil:
		n := 0
		for _, v := range []string{a.Key.Path, a.Key.Data, a.Key.KMS, a.Key.PKCS11} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return errors.New("key: set exactly one of path, data, kms, pkcs11")
		}
		if a.Key.KMS != "" && !strings.Contains(a.Key.KMS, "://") {
			return fmt.Errorf("key.kms: %q is not a KMS key URI (awskms://..., gcpkms://..., azurekms://..., hashivault://...)", a.Key.KMS)
		}
		if a.Key.PKCS11 != "" && !strings.HasPrefix(a.Key.PKCS11, "pkcs11:") {
			return fmt.Errorf("key.pkcs11: %q is not a pkcs11: URI", a.Key.PKCS11)
		}
	case a.Keyless != nil:
		if a.Keyless.TrustedRoot == "" {
			return errors.New("keyless: trustedRoot is required")
		}
		if err := validateIdentities(a.Keyless.Identities); err != nil {
			return fmt.Errorf("keyless: %v", err)
		}
	case a.Certificate != nil:
		if (a.Certificate.Roots.Path == "") == (a.Certificate.Roots.Data == "") {
			return errors.New("certificate.roots: set exactly one of path, data")
		}
		if len(a.Certificate.Identities) > 0 {
			if err := validateIdentities(a.Certificate.Identities); err != nil {
				return fmt.Errorf("certificate: %v", err)
			}
		}
	}
	return nil
}

func validateIdentities(ids []IdentitySpec) error {
	if len(ids) == 0 {
		return errors.New("at least one identity is required")
	}
	for i, id := range ids {
		if (id.Issuer == "") == (id.IssuerRegExp == "") {
			return fmt.Errorf("identities[%d]: set exactly one of issuer, issuerRegExp", i)
		}
		if (id.Subject == "") == (id.SubjectRegExp == "") {
			return fmt.Errorf("identities[%d]: set exactly one of subject, subjectRegExp", i)
		}
		for _, re := range []string{id.IssuerRegExp, id.SubjectRegExp} {
			if re == "" {
				continue
			}
			if _, err := regexp.Compile(re); err != nil {
				return fmt.Errorf("identities[%d]: %v", i, err)
			}
		}
	}
	return nil
}

func (d *PolicyDocument) enforce() bool { return d.Spec.Mode != "warn" }

func (d *PolicyDocument) denyNoMatch() bool { return d.Spec.NoMatch != "allow" }

func (d *PolicyDocument) requireDigest() bool {
	return d.Spec.RequireDigest == nil || *d.Spec.RequireDigest
}

func joinNames(names []string) string { return strings.Join(names, ", ") }

// checkCache checks one cache's time to live ("" for the default) and size
// (0 for the default).
func checkCache(ttlField, ttlText string, maxTTL time.Duration, sizeField string, size int) error {
	if ttlText != "" {
		ttl, err := time.ParseDuration(ttlText)
		if err != nil || ttl <= 0 || ttl > maxTTL {
			return fmt.Errorf("spec.cache.%s %q: want a duration in (0, %s]", ttlField, ttlText, maxTTL)
		}
	}
	if size < 0 || size > maxCacheSize {
		return fmt.Errorf("spec.cache.%s %d: want 0 (default) to %d", sizeField, size, maxCacheSize)
	}
	return nil
}
