package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelverify/modelverify/pkg/scan"
)

func TestEvaluateOutcomes(t *testing.T) {
	w := newWorld()
	good, unsigned, unscanned, bad, medium, wrongKey := digestOf("good"), digestOf("unsigned"), digestOf("unscanned"), digestOf("bad"), digestOf("medium"), digestOf("wrongkey")
	w.sign("release", good, clean)
	w.sign("release", unscanned, nil)
	w.sign("ci", bad, dangerous(scan.SeverityCritical))
	w.sign("ci", medium, dangerous(scan.SeverityMedium))
	w.sign("someone-else", wrongKey, clean)
	w.tag("registry.test/models/good:v1", good)
	w.broken[digestOf("down")] = errors.New("dial tcp 127.0.0.1:1: connection refused")
	p := compileTest(t, w, testPolicy("enforce", ""), Options{})

	tests := []struct {
		name    string
		ref     string
		resolve bool
		outcome Outcome
		reason  string
	}{
		{"a signed model with a clean scan is admitted", "registry.test/models/good@" + good, false, Admitted, "signed by release; scan attested by release"},
		{"a medium finding is within maxSeverity", "registry.test/models/m@" + medium, false, Admitted, "signed by ci"},
		{"an unsigned model is denied", "registry.test/models/u@" + unsigned, false, Denied, "no valid signature"},
		{"a model signed by an unknown key is denied", "registry.test/models/k@" + wrongKey, false, Denied, "no valid signature"},
		{"a signed model without a scan is denied", "registry.test/models/s@" + unscanned, false, Denied, "no signed scan attestation"},
		{"a critical finding is denied", "registry.test/models/b@" + bad, false, Denied, "critical findings"},
		{"a tag is denied when digests are required", "registry.test/models/good:v1", false, Denied, "not pinned to a digest"},
		{"a tag is resolved when asked", "registry.test/models/good:v1", true, Admitted, "signed by release"},
		{"an unknown tag fails closed", "registry.test/models/good:nope", true, Undecided, "fail closed"},
		{"a registry error fails closed", "registry.test/models/x@" + digestOf("down"), false, Undecided, "connection refused"},
		{"an unmatched reference is denied", "docker.io/library/nginx:1.27", false, Denied, "no policy rule matches"},
		{"an allow rule admits", "registry.test/system/pause:3.9", false, Admitted, "allowed by rule"},
		{"a deny rule denies", "registry.test/banned/x@" + good, false, Denied, "rule denies"},
		{"a malformed reference is denied", "registry.test/Bad Ref", false, Denied, "invalid reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Evaluate(context.Background(), []Model{{Ref: tt.ref, Source: "test"}}, EvalOptions{ResolveTags: tt.resolve})
			m := d.Models[0]
			if m.Outcome != tt.outcome || !strings.Contains(m.Reason, tt.reason) {
				t.Fatalf("got %s %q, want %s containing %q", m.Outcome, m.Reason, tt.outcome, tt.reason)
			}
			if d.Allowed() != (tt.outcome == Admitted) {
				t.Errorf("Allowed() = %v for outcome %s", d.Allowed(), m.Outcome)
			}
		})
	}
}

// maxSeverity: none admits no finding at all, not every finding.
func TestMaxSeverityNoneAdmitsNoFinding(t *testing.T) {
	w := newWorld()
	good, info := digestOf("good"), digestOf("info")
	w.sign("release", good, clean)
	w.sign("release", info, dangerous(scan.SeverityInfo))
	p := compileTest(t, w, strings.Replace(testPolicy("enforce", ""), "maxSeverity: medium", "maxSeverity: none", 1), Options{})
	for ref, want := range map[string]Outcome{"registry.test/models/g@" + good: Admitted, "registry.test/models/i@" + info: Denied} {
		d := p.Evaluate(context.Background(), []Model{{Ref: ref, Source: "test"}}, EvalOptions{})
		if m := d.Models[0]; m.Outcome != want {
			t.Errorf("%s: %s %q, want %s", ref, m.Outcome, m.Reason, want)
		}
	}
}

func TestDecisionMessageNamesEveryFailure(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	p := compileTest(t, w, testPolicy("enforce", ""), Options{})
	d := p.Evaluate(context.Background(), []Model{
		{Ref: "registry.test/models/ok@" + good, Source: "spec.containers[a].image"},
		{Ref: "registry.test/models/one@" + digestOf("one"), Source: "spec.containers[b].image"},
		{Ref: "registry.test/models/two:latest", Source: "spec.volumes[w].image.reference"},
	}, EvalOptions{})
	msg := d.Message()
	for _, want := range []string{"2 models not admitted", "spec.containers[b].image registry.test/models/one@", "spec.volumes[w].image.reference registry.test/models/two:latest", "not pinned"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "containers[a]") {
		t.Errorf("message names an admitted model: %q", msg)
	}
}

func TestWarnModeAllowsWithWarnings(t *testing.T) {
	w := newWorld()
	p := compileTest(t, w, testPolicy("warn", ""), Options{})
	d := p.Evaluate(context.Background(), []Model{{Ref: "registry.test/models/u@" + digestOf("u")}}, EvalOptions{})
	if !d.Allowed() {
		t.Fatal("warn mode denied")
	}
	if ws := d.Warnings(); len(ws) != 1 || !strings.Contains(ws[0], "warn mode") || !strings.Contains(ws[0], "no valid signature") {
		t.Fatalf("warnings %q", ws)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCacheByDigestWithTTL(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	c := &clock{now: time.Unix(1e9, 0)}
	m := NewMetrics()
	p := compileTest(t, w, testPolicy("enforce", "  cache: {ttl: 1m}"), Options{Now: c.Now, Metrics: m})
	models := []Model{{Ref: "registry.test/models/a@" + good}, {Ref: "registry.test/models/other-name@" + good}}

	d := p.Evaluate(context.Background(), models[:1], EvalOptions{})
	if d.Models[0].Cached || d.Models[0].Outcome != Admitted {
		t.Fatalf("first decision: %+v", d.Models[0])
	}
	before := w.verifies.Load()
	d = p.Evaluate(context.Background(), models, EvalOptions{})
	for _, md := range d.Models {
		if !md.Cached || md.Outcome != Admitted {
			t.Fatalf("second decision not from the cache: %+v", md)
		}
	}
	if w.verifies.Load() != before {
		t.Fatal("a cached decision verified again")
	}
	// Revoke: the cached verdict lasts until the TTL, not longer.
	w.mu.Lock()
	delete(w.evidence["release"], good)
	w.mu.Unlock()
	c.advance(59 * time.Second)
	if d = p.Evaluate(context.Background(), models[:1], EvalOptions{}); d.Models[0].Outcome != Admitted {
		t.Fatal("expired early")
	}
	c.advance(2 * time.Second)
	if d = p.Evaluate(context.Background(), models[:1], EvalOptions{}); d.Models[0].Outcome != Denied || d.Models[0].Cached {
		t.Fatalf("after the TTL: %+v", d.Models[0])
	}
}

func TestUndecidedIsNotCached(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	w.broken["sig:"+good] = errors.New("registry unavailable")
	p := compileTest(t, w, testPolicy("enforce", ""), Options{})
	ref := []Model{{Ref: "registry.test/models/a@" + good}}
	if d := p.Evaluate(context.Background(), ref, EvalOptions{}); d.Models[0].Outcome != Undecided ||
		!strings.Contains(d.Models[0].Reason, "fail closed") || !strings.Contains(d.Models[0].Reason, "registry unavailable") {
		t.Fatalf("got %+v", d.Models[0])
	}
	w.mu.Lock()
	delete(w.broken, "sig:"+good)
	w.mu.Unlock()
	if d := p.Evaluate(context.Background(), ref, EvalOptions{}); d.Models[0].Outcome != Admitted || d.Models[0].Cached {
		t.Fatalf("after recovery: %+v", d.Models[0])
	}
}

func TestConcurrentRequestsVerifyOnce(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	p := compileTest(t, w, testPolicy("enforce", ""), Options{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := p.Evaluate(context.Background(), []Model{{Ref: "registry.test/models/a@" + good}}, EvalOptions{})
			if d.Models[0].Outcome != Admitted {
				t.Errorf("got %+v", d.Models[0])
			}
		}()
	}
	wg.Wait()
	// Each verification asks both authorities at most; 50 requests must
	// not mean 100 signature checks.
	if n := w.verifies.Load(); n > 10 {
		t.Errorf("%d signature checks for one digest", n)
	}
}

func TestDenialsAreCachedBrieflyApartFromAdmissions(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	c := &clock{now: time.Unix(1e9, 0)}
	m := NewMetrics()
	p := compileTest(t, w, testPolicy("enforce", "  cache: {ttl: 5m, negativeTTL: 10s, negativeSize: 3}"), Options{Now: c.Now, Metrics: m})
	eval := func(d string) ModelDecision {
		t.Helper()
		return p.Evaluate(context.Background(), []Model{{Ref: "registry.test/models/a@" + d}}, EvalOptions{}).Models[0]
	}
	bad := digestOf("unsigned")
	if md := eval(good); md.Outcome != Admitted || md.Cached {
		t.Fatalf("first admission: %+v", md)
	}
	if md := eval(bad); md.Outcome != Denied || md.Cached {
		t.Fatalf("first denial: %+v", md)
	}
	verifies := w.verifies.Load()
	for range 5 {
		if md := eval(bad); md.Outcome != Denied || !md.Cached || !strings.Contains(md.Reason, "no valid signature") {
			t.Fatalf("repeated denial: %+v", md)
		}
	}
	if md := eval(good); !md.Cached {
		t.Fatalf("admission not reused: %+v", md)
	}
	if w.verifies.Load() != verifies {
		t.Errorf("cached decisions verified %d more times", w.verifies.Load()-verifies)
	}
	if got, want := p.CacheStats(), (CacheStats{Hits: 1, NegativeHits: 5, Misses: 2, Admissions: 1, Denials: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}

	// A denial lasts negativeTTL: once the model is signed, it is admitted
	// after 10 s, while the admission stays for its own, longer TTL.
	w.sign("release", bad, clean)
	c.advance(9 * time.Second)
	if md := eval(bad); md.Outcome != Denied || !md.Cached {
		t.Fatalf("denial expired early: %+v", md)
	}
	c.advance(2 * time.Second)
	if md := eval(bad); md.Outcome != Admitted || md.Cached {
		t.Fatalf("after negativeTTL: %+v", md)
	}

	// A flood of distinct bad digests fills only the cache of denials,
	// which stays within negativeSize, and evicts no admission.
	for i := range 20 {
		eval(digestOf(fmt.Sprint("flood", i)))
	}
	st := p.CacheStats()
	if st.Denials > 3 {
		t.Errorf("%d denials kept, negativeSize 3", st.Denials)
	}
	if st.Admissions != 2 {
		t.Errorf("%d admissions kept after the flood, want 2", st.Admissions)
	}
	before := st.Hits
	if md := eval(good); !md.Cached || p.CacheStats().Hits != before+1 {
		t.Errorf("the admission was evicted by the flood: %+v", md)
	}
	body := metricsText(t, m)
	for _, want := range []string{
		`modelverify_admission_cache_requests_total{result="negative_hit"} 6`,
		`modelverify_admission_cache_requests_total{result="hit"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func metricsText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
