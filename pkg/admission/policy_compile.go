package admission

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
)

// ErrNotVerified is the root of the errors that mean "the model is not
// acceptable" (no signature from this authority, a signature that does not
// verify, no scan attestation). Any other error from an [Authority] or a
// [Resolver] means the check could not be made, and the model is denied
// with a message that says the webhook failed closed.
var ErrNotVerified = errors.New("not verified")

// ErrNoScan says that no scan attestation from the authority verified.
var ErrNoScan = fmt.Errorf("%w: no signed scan attestation", ErrNotVerified)

// Resolver finds the manifest digest that a reference names.
type Resolver interface {
	// Resolve returns the digest ("sha256:...") of the manifest that ref
	// names now. ref may already carry a digest; the resolver then checks
	// that the manifest exists.
	Resolve(ctx context.Context, ref Reference) (string, error)
}

// Authority checks one trusted signer's evidence for a model. ref is always
// pinned to a digest. Implementations must verify everything they read
// cryptographically; an artifact type or annotation is never evidence.
type Authority interface {
	// VerifySignature returns nil when the model carries a signature by
	// this authority that verifies against the manifest digest, and an
	// error wrapping ErrNotVerified when it does not.
	VerifySignature(ctx context.Context, ref Reference) error
	// VerifiedScan returns the scan attestation signed by this authority
	// for the model (the most recent when there are several), or an error
	// wrapping ErrNoScan when there is none that verifies.
	VerifiedScan(ctx context.Context, ref Reference) (*attest.Predicate, error)
}

// AuthorityCompiler turns an authority of the policy into an Authority. It
// reads keys and trusted roots once, at compile time.
type AuthorityCompiler interface {
	CompileAuthority(spec AuthoritySpec) (Authority, error)
}

// AuthorityCompilerFunc adapts a function to AuthorityCompiler.
type AuthorityCompilerFunc func(spec AuthoritySpec) (Authority, error)

// CompileAuthority calls f.
func (f AuthorityCompilerFunc) CompileAuthority(spec AuthoritySpec) (Authority, error) {
	return f(spec)
}

// Options are what Compile needs besides the document.
type Options struct {
	// Resolver and Authorities are required.
	Resolver    Resolver
	Authorities AuthorityCompiler
	// Metrics, if set, counts cache hits and misses.
	Metrics *Metrics
	// Now is the clock for the cache; nil means time.Now.
	Now func() time.Time
	// Parallelism bounds how many models of one object are checked at
	// once; 0 means 4.
	Parallelism int
	// Verifications bounds how many models are verified against the
	// registry at once, across all requests; nil means a limit of
	// DefaultMaxVerifications of this policy's own. Pass one limit to
	// every policy a webhook compiles, so that a reload does not raise it.
	Verifications *VerifyLimit
}

// DefaultMaxVerifications is how many models a policy verifies at once
// unless Options.Verifications says otherwise.
const DefaultMaxVerifications = 16

// VerifyLimit bounds concurrent verifications: a flood of requests that
// name models not in the caches (distinct unknown digests, say) waits for a
// slot instead of opening a registry connection each, and a request that
// does not get one before its deadline is denied as undecided. Cached
// decisions never wait for it.
type VerifyLimit struct {
	slots chan struct{}
}

// NewVerifyLimit allows n verifications at once (n < 1 means 1).
func NewVerifyLimit(n int) *VerifyLimit {
	return &VerifyLimit{slots: make(chan struct{}, max(n, 1))}
}

// Cap is the number of verifications allowed at once.
func (l *VerifyLimit) Cap() int { return cap(l.slots) }

// acquire takes a slot, or fails when ctx ends first.
func (l *VerifyLimit) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Policy is a compiled ModelPolicy. It is safe for concurrent use and meant
// to be compiled once and used for every request.
type Policy struct {
	name          string
	enforce       bool
	denyNoMatch   bool
	requireDigest bool
	rules         []*rule
	resolver      Resolver
	cache         *decisionCache // admissions
	denials       *decisionCache // denials: short-lived, bounded apart
	stats         cacheCounters
	flight        singleflight.Group
	metrics       *Metrics
	parallelism   int
	verifications *VerifyLimit
}

type rule struct {
	name         string
	globs        []glob // over image references
	uriGlobs     []glob // over storage URIs (patterns with a scheme other than oci://)
	action       string
	authorities  []namedAuthority
	scanRequired bool
	maxSeverity  scan.Severity
}

type namedAuthority struct {
	name string
	Authority
}

// Compile validates doc and compiles it. Errors wrap ErrPolicy.
func Compile(doc *PolicyDocument, opts Options) (*Policy, error) {
	if doc == nil {
		return nil, fmt.Errorf("%w: no document", ErrPolicy)
	}
	if opts.Resolver == nil || opts.Authorities == nil {
		return nil, fmt.Errorf("%w: a resolver and an authority compiler are required", ErrPolicy)
	}
	if err := doc.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	c := doc.Spec.Cache
	ttl, size := cacheParams(c.TTL, DefaultCacheTTL, c.Size, DefaultCacheSize)
	negTTL, negSize := cacheParams(c.NegativeTTL, DefaultNegativeCacheTTL, c.NegativeSize, DefaultNegativeCacheSize)
	p := &Policy{
		name:          doc.Metadata.Name,
		enforce:       doc.enforce(),
		denyNoMatch:   doc.denyNoMatch(),
		requireDigest: doc.requireDigest(),
		resolver:      opts.Resolver,
		cache:         newDecisionCache(size, ttl, opts.Now),
		denials:       newDecisionCache(negSize, negTTL, opts.Now),
		metrics:       opts.Metrics,
		parallelism:   opts.Parallelism,
		verifications: opts.Verifications,
	}
	if p.verifications == nil {
		p.verifications = NewVerifyLimit(DefaultMaxVerifications)
	}
	if p.parallelism <= 0 {
		p.parallelism = 4
	}
	for _, rs := range doc.Spec.Rules {
		r := &rule{name: rs.Name, action: rs.Action, scanRequired: rs.Scan.Required, maxSeverity: scan.SeverityLow}
		if r.action == "" {
			r.action = ActionVerify
		}
		if rs.Scan.MaxSeverity != "" {
			r.maxSeverity, _ = scan.ParseSeverity(rs.Scan.MaxSeverity) // validated
		}
		for _, m := range rs.Match {
			g, err := compileGlob(m)
			if err != nil {
				return nil, fmt.Errorf("%w: rule %q: match %q: %v", ErrPolicy, rs.Name, m, err)
			}
			if isURIPattern(m) {
				r.uriGlobs = append(r.uriGlobs, g)
			} else {
				r.globs = append(r.globs, g)
			}
		}
		for _, as := range rs.Authorities {
			a, err := opts.Authorities.CompileAuthority(as)
			if err != nil {
				return nil, fmt.Errorf("%w: rule %q: authority %q: %v", ErrPolicy, rs.Name, as.Name, err)
			}
			r.authorities = append(r.authorities, namedAuthority{name: as.Name, Authority: a})
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// CacheStats counts the decision cache lookups of a policy since it was
// compiled, and how many entries each cache holds (expired ones included
// until they are looked up or evicted).
type CacheStats struct {
	Hits         int64 // an admission was reused
	NegativeHits int64 // a denial was reused
	Misses       int64 // the model was verified
	Admissions   int   // entries in the cache of admissions
	Denials      int   // entries in the cache of denials
}

type cacheCounters struct {
	hits, negativeHits, misses atomic.Int64
}

// CacheStats reports the policy's cache counters.
func (p *Policy) CacheStats() CacheStats {
	return CacheStats{
		Hits:         p.stats.hits.Load(),
		NegativeHits: p.stats.negativeHits.Load(),
		Misses:       p.stats.misses.Load(),
		Admissions:   p.cache.Len(),
		Denials:      p.denials.Len(),
	}
}

// Name is the policy's metadata.name.
func (p *Policy) Name() string { return p.name }

// Enforcing reports whether failures deny (mode enforce) rather than warn.
func (p *Policy) Enforcing() bool { return p.enforce }

// RequiresDigest reports whether /validate denies unpinned references.
func (p *Policy) RequiresDigest() bool { return p.requireDigest }

func (p *Policy) match(ref Reference) *rule {
	name, full := ref.Name(), ref.String()
	for _, r := range p.rules {
		for _, g := range r.globs {
			if g.match(name) || g.match(full) {
				return r
			}
		}
	}
	return nil
}

// cacheParams is a validated cache's time to live and size, with their
// defaults for "" and 0.
func cacheParams(ttlText string, defTTL time.Duration, size, defSize int) (time.Duration, int) {
	ttl := defTTL
	if ttlText != "" {
		ttl, _ = time.ParseDuration(ttlText) // validated
	}
	if size == 0 {
		size = defSize
	}
	return ttl, size
}
