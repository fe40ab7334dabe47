package admission

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/modelverify/modelverify/pkg/scan/attest"
)

// Model is a reference to check and where it was found.
type Model struct {
	// Ref is the reference as written (image field, annotation entry).
	Ref string
	// Source says where: "spec.containers[app].image", or the CLI argument.
	Source string
	// URI marks a field that holds a storage URI (a KServe storageUri)
	// rather than an image reference: only oci:// URIs name something
	// that can be verified. A Ref with a scheme other than oci:// is
	// treated as a storage URI whatever the field.
	URI bool `json:"-"`
}

// EvalOptions adjust one evaluation.
type EvalOptions struct {
	// ResolveTags makes unpinned references acceptable: they are resolved
	// to a digest and verified (the `admit` command and /mutate). Without
	// it a policy that requires digests denies them (/validate).
	ResolveTags bool
}

// Outcome is the result for one model.
type Outcome string

const (
	Admitted  Outcome = "admitted"
	Denied    Outcome = "denied"    // the policy refuses the model
	Undecided Outcome = "undecided" // the check could not be made: denied, failing closed
)

// ModelDecision is the decision about one model.
type ModelDecision struct {
	Model
	// Pinned is the reference pinned to the digest that was checked, ""
	// when it was not resolved.
	Pinned string `json:"pinned,omitempty"`
	Rule   string `json:"rule,omitempty"`
	// Outcome and Reason: Reason says why a model failed, or which
	// authority signed an admitted one.
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	Cached  bool    `json:"cached,omitempty"`
}

// Decision is the outcome for a set of models.
type Decision struct {
	Policy  string          `json:"policy"`
	Enforce bool            `json:"enforce"`
	Models  []ModelDecision `json:"models"`
}

// Failures are the models that were not admitted.
func (d *Decision) Failures() []ModelDecision {
	var out []ModelDecision
	for _, m := range d.Models {
		if m.Outcome != Admitted {
			out = append(out, m)
		}
	}
	return out
}

// Allowed reports whether the object may be created: every model was
// admitted, or the policy only warns.
func (d *Decision) Allowed() bool { return !d.Enforce || len(d.Failures()) == 0 }

// Undecided reports whether a failure was a failure to check (as opposed
// to a model the policy refuses).
func (d *Decision) Undecided() bool {
	for _, m := range d.Failures() {
		if m.Outcome == Undecided {
			return true
		}
	}
	return false
}

// Message names every failing model and why, "" when there is none.
func (d *Decision) Message() string {
	f := d.Failures()
	if len(f) == 0 {
		return ""
	}
	parts := make([]string, len(f))
	for i, m := range f {
		parts[i] = m.line()
	}
	noun := "models"
	if len(f) == 1 {
		noun = "model"
	}
	return fmt.Sprintf("modelverify policy %q: %d %s not admitted: %s", d.Policy, len(f), noun, strings.Join(parts, "; "))
}

// Warnings is one line per failing model in warn mode, nil in enforce
// mode (where failures deny instead).
func (d *Decision) Warnings() []string {
	if d.Enforce {
		return nil
	}
	var out []string
	for _, m := range d.Failures() {
		out = append(out, fmt.Sprintf("modelverify policy %q (warn mode): %s", d.Policy, m.line()))
	}
	return out
}

func (m ModelDecision) line() string {
	s := m.Ref
	if m.Source != "" {
		s = m.Source + " " + s
	}
	if m.Rule != "" {
		s += " (rule " + m.Rule + ")"
	}
	return s + ": " + m.Reason
}

// Evaluate decides every model. It never returns an error: a model that
// cannot be checked is Undecided, which denies.
func (p *Policy) Evaluate(ctx context.Context, models []Model, opts EvalOptions) *Decision {
	d := &Decision{Policy: p.name, Enforce: p.enforce, Models: make([]ModelDecision, len(models))}
	sem := make(chan struct{}, p.parallelism)
	var wg sync.WaitGroup
	for i, m := range models {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.Models[i] = p.evaluateOne(ctx, m, opts)
		}()
	}
	wg.Wait()
	return d
}

func (p *Policy) evaluateOne(ctx context.Context, m Model, opts EvalOptions) ModelDecision {
	md := ModelDecision{Model: m}
	if scheme, ok := storageScheme(m); ok {
		return p.evaluateURI(md, scheme)
	}
	ref, err := ParseReference(m.Ref)
	if err != nil {
		md.Outcome, md.Reason = Denied, err.Error()
		return md
	}
	r := p.match(ref)
	if r == nil {
		if p.denyNoMatch {
			md.Outcome, md.Reason = Denied, "no policy rule matches this reference (noMatch: deny)"
		} else {
			md.Outcome, md.Reason = Admitted, "no policy rule matches (noMatch: allow)"
		}
		return md
	}
	md.Rule = r.name
	switch r.action {
	case ActionAllow:
		md.Outcome, md.Reason = Admitted, "allowed by rule without verification"
		return md
	case ActionDeny:
		md.Outcome, md.Reason = Denied, "the rule denies these references"
		return md
	}
	if !ref.Pinned() && p.requireDigest && !opts.ResolveTags {
		md.Outcome = Denied
		md.Reason = "not pinned to a digest (use @sha256:..., or install the mutating webhook that pins tags)"
		return md
	}
	// A pinned reference needs no lookup: the digest is what will run,
	// and verification fetches the manifest by that digest.
	digest := ref.Digest
	if !ref.Pinned() {
		d, err := p.resolver.Resolve(ctx, ref)
		if err != nil {
			md.Outcome = Undecided
			md.Reason = "could not resolve the reference, denied (fail closed): " + err.Error()
			return md
		}
		digest = d
	}
	pinned := ref.WithDigest(digest)
	md.Pinned = pinned.String()

	key := cacheKey(r.name, digest)
	if v, ok := p.lookup(key); ok {
		md.Outcome, md.Reason, md.Cached = v.outcome, v.reason, true
		return md
	}
	res, _, _ := p.flight.Do(key, func() (any, error) {
		// A request that missed the cache while another verified the
		// same digest may start its flight once that one has ended:
		// the verdict is in the cache by then.
		if v, ok := p.cached(key); ok {
			return v, nil
		}
		release, err := p.verifications.acquire(ctx)
		if err != nil {
			p.metrics.cacheLookup("busy")
			return verdict{outcome: Undecided, reason: fmt.Sprintf(
				"not verified before the request's deadline: %d other models were being verified, denied (fail closed)",
				p.verifications.Cap())}, nil
		}
		defer release()
		v := r.verify(ctx, pinned)
		switch v.outcome {
		case Admitted:
			p.cache.put(key, v)
		case Denied:
			p.denials.put(key, v)
		}
		return v, nil
	})
	v := res.(verdict)
	md.Outcome, md.Reason = v.outcome, v.reason
	return md
}

// lookup consults the cache of admissions, then that of denials, and
// counts the hit or the miss.
func (p *Policy) lookup(key string) (verdict, bool) {
	if v, ok := p.cache.get(key); ok {
		p.stats.hits.Add(1)
		p.metrics.cacheLookup("hit")
		return v, true
	}
	if v, ok := p.denials.get(key); ok {
		p.stats.negativeHits.Add(1)
		p.metrics.cacheLookup("negative_hit")
		return v, true
	}
	p.stats.misses.Add(1)
	p.metrics.cacheLookup("miss")
	return verdict{}, false
}

// cached is lookup without counting.
func (p *Policy) cached(key string) (verdict, bool) {
	if v, ok := p.cache.get(key); ok {
		return v, true
	}
	return p.denials.get(key)
}

type verdict struct {
	outcome Outcome
	reason  string
}

// verify checks the signatures and the scan of one pinned model.
func (r *rule) verify(ctx context.Context, ref Reference) verdict {
	var signers, failed, broken []string
	for _, a := range r.authorities {
		err := a.VerifySignature(ctx, ref)
		switch {
		case err == nil:
			signers = append(signers, a.name)
		case errors.Is(err, ErrNotVerified):
			failed = append(failed, a.name+": "+err.Error())
		default:
			broken = append(broken, a.name+": "+err.Error())
		}
	}
	if len(signers) == 0 {
		if len(broken) > 0 {
			return verdict{Undecided, "could not check signatures, denied (fail closed): " + joinNames(append(broken, failed...))}
		}
		return verdict{Denied, "no valid signature from a trusted authority (" + joinNames(failed) + ")"}
	}
	reason := "signed by " + joinNames(signers)
	if !r.scanRequired {
		return verdict{Admitted, reason}
	}
	var missing []string
	broken = nil
	var results []scanFrom
	for _, a := range r.authorities {
		res, err := a.VerifiedScan(ctx, ref)
		switch {
		case err == nil:
			results = append(results, scanFrom{a.name, res})
		case errors.Is(err, ErrNotVerified):
			missing = append(missing, a.name+": "+err.Error())
		default:
			broken = append(broken, a.name+": "+err.Error())
		}
	}
	if len(results) == 0 {
		if len(broken) > 0 {
			return verdict{Undecided, reason + "; could not check scan attestations, denied (fail closed): " + joinNames(append(broken, missing...))}
		}
		return verdict{Denied, reason + "; scan required but no signed scan attestation verified (" + joinNames(missing) + ")"}
	}
	// Every verified scan must pass: a later scan that found something
	// is not outweighed by an older clean one.
	sort.Slice(results, func(i, j int) bool { return results[i].authority < results[j].authority })
	for _, s := range results {
		if err := attest.AllowUpTo(r.maxSeverity).Check(s.scan); err != nil {
			return verdict{Denied, reason + "; scan attested by " + s.authority + ": " + strings.TrimPrefix(err.Error(), attest.ErrRejected.Error()+": the attested scan ") + " (policy maxSeverity " + r.maxSeverity.String() + ")"}
		}
	}
	return verdict{Admitted, reason + "; scan attested by " + results[0].authority}
}

type scanFrom struct {
	authority string
	scan      *attest.Predicate
}
