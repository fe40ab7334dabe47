package admission

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
)

// The doubles below stand in for the registry and signature adapters,
// which have tests of their own against a real registry and real
// signatures; here they let each policy outcome be produced on demand.

// evidence is what one authority has signed for one digest.
type evidence struct {
	signed bool
	scan   *attest.Predicate
}

type world struct {
	mu       sync.Mutex
	tags     map[string]string              // REGISTRY/REPO:TAG -> digest
	evidence map[string]map[string]evidence // authority -> digest -> evidence
	broken   map[string]error               // digest -> infrastructure error
	resolves atomic.Int64
	verifies atomic.Int64
}

func newWorld() *world {
	return &world{tags: map[string]string{}, evidence: map[string]map[string]evidence{}, broken: map[string]error{}}
}

func digestOf(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}

func (w *world) tag(ref string, digest string) {
	r, err := ParseReference(ref)
	if err != nil {
		panic(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tags[r.Name()+":"+r.Tag] = digest
}

func (w *world) sign(authority, digest string, s *attest.Predicate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.evidence[authority] == nil {
		w.evidence[authority] = map[string]evidence{}
	}
	w.evidence[authority][digest] = evidence{signed: true, scan: s}
}

func (w *world) Resolve(_ context.Context, ref Reference) (string, error) {
	w.resolves.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if ref.Pinned() {
		if err := w.broken[ref.Digest]; err != nil {
			return "", err
		}
		return ref.Digest, nil
	}
	d, ok := w.tags[ref.Name()+":"+ref.Tag]
	if !ok {
		return "", fmt.Errorf("GET https://%s/v2/%s/manifests/%s: MANIFEST_UNKNOWN", ref.Registry, ref.Repository, ref.Tag)
	}
	return d, nil
}

type worldAuthority struct {
	w    *world
	name string
}

func (a worldAuthority) VerifySignature(_ context.Context, ref Reference) error {
	a.w.verifies.Add(1)
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	for _, key := range []string{ref.Digest, "sig:" + ref.Digest} {
		if err := a.w.broken[key]; err != nil {
			return err
		}
	}
	if !a.w.evidence[a.name][ref.Digest].signed {
		return fmt.Errorf("%w: no signature verifies", ErrNotVerified)
	}
	return nil
}

func (a worldAuthority) VerifiedScan(_ context.Context, ref Reference) (*attest.Predicate, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	e := a.w.evidence[a.name][ref.Digest]
	if e.scan == nil {
		return nil, ErrNoScan
	}
	return e.scan, nil
}

func (w *world) compiler() AuthorityCompiler {
	return AuthorityCompilerFunc(func(s AuthoritySpec) (Authority, error) {
		return worldAuthority{w: w, name: s.Name}, nil
	})
}

var clean = &attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "none"}

func dangerous(sev scan.Severity) *attest.Predicate {
	return &attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: sev.String(), Findings: []attest.Finding{
		{Path: "model.pkl", Finding: scan.Finding{RuleID: scan.RuleDangerousGlobal, Severity: sev}},
	}}
}

// testPolicy is a policy for registry.test/models/** with key authorities
// release and ci, a required scan (max medium), an allow rule for
// registry.test/system/** and a deny rule for registry.test/banned/**.
func testPolicy(mode string, extra string) string {
	return `apiVersion: modelverify.dev/v1alpha1
kind: ModelPolicy
metadata: {name: test}
spec:
  mode: ` + mode + `
  noMatch: deny
` + extra + `
  rules:
    - name: system
      match: ["registry.test/system/**"]
      action: allow
    - name: banned
      match: ["registry.test/banned/**"]
      action: deny
    - name: models
      match: ["registry.test/models/**"]
      authorities:
        - {name: release, key: {data: "unused"}}
        - {name: ci, key: {data: "unused"}}
      scan: {required: true, maxSeverity: medium}
`
}

func compileTest(t testing.TB, w *world, yamlText string, opts Options) *Policy {
	t.Helper()
	doc, err := ParsePolicy(strings.NewReader(yamlText), "")
	if err != nil {
		t.Fatal(err)
	}
	opts.Resolver, opts.Authorities = w, w.compiler()
	p, err := Compile(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
