package oci_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
)

// gateTransport tracks how many registry requests are in flight at once,
// and holds every request for a manifest until gate is closed (nil: never).
type gateTransport struct {
	inFlight, peak, total atomic.Int64
	gate                  chan struct{}
	holdPath              string
}

func (g *gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	g.total.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if g.gate != nil && strings.Contains(r.URL.Path, g.holdPath) {
		select {
		case <-g.gate:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	// A little latency, as a remote registry has, so that requests overlap.
	time.Sleep(2 * time.Millisecond)
	return http.DefaultTransport.RoundTrip(r)
}

func compileWith(t *testing.T, policyFile string, tr http.RoundTripper, opts admission.Options) *admission.Policy {
	t.Helper()
	doc, err := admission.LoadPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	reg := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true, HTTPClient: &http.Client{Transport: tr}}})
	p, err := reg.Compile(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func unknownDigest(i int) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Appendf(nil, "unknown %d", i)))
}

// A flood of requests naming distinct digests that no cache holds opens at
// most the limit's number of verifications at once, and every one of them
// is still denied.
func TestDistinctDigestFloodIsBoundedByTheVerifyLimit(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	release := kube.NewSigner(t, dir, "release")
	tr := &gateTransport{}
	const limit = 2
	p := compileWith(t, writePolicy(t, dir, kube.PolicyYAML(host, "enforce", release.PubPath)), tr,
		admission.Options{Verifications: admission.NewVerifyLimit(limit)})
	var wg sync.WaitGroup
	const n = 40
	outcomes := make([]admission.ModelDecision, n)
	for i := range n {
		wg.Go(func() {
			d := p.Evaluate(context.Background(), []admission.Model{{Ref: host + "/models/m@" + unknownDigest(i)}}, admission.EvalOptions{})
			outcomes[i] = d.Models[0]
		})
	}
	wg.Wait()
	for i, m := range outcomes {
		if m.Outcome != admission.Denied {
			t.Errorf("request %d: %s: %s", i, m.Outcome, m.Reason)
		}
	}
	if peak := tr.peak.Load(); peak > limit || peak < 1 {
		t.Errorf("%d registry requests in flight at once, limit %d", peak, limit)
	}
	if st := p.CacheStats(); st.Misses != n || st.Denials != n {
		t.Errorf("cache stats %+v, want %d misses and denials", st, n)
	}
	t.Logf("%d distinct digests: %d registry requests, at most %d at once", n, tr.total.Load(), tr.peak.Load())
}

// While every slot is taken by a verification that does not finish, a
// cached admission is still answered, and a request for another unknown
// digest is denied as undecided when its deadline passes, without being
// cached.
func TestCachedDecisionsDoNotWaitForVerifySlots(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	release := kube.NewSigner(t, dir, "release")
	good := kube.Publish(t, host, "models/good", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle}, SignedBy: release, ScanBy: release})
	tr := &gateTransport{holdPath: "/models/stuck/"}
	p := compileWith(t, writePolicy(t, dir, kube.PolicyYAML(host, "enforce", release.PubPath)), tr,
		admission.Options{Verifications: admission.NewVerifyLimit(1)})
	ctx := context.Background()
	goodRef := []admission.Model{{Ref: host + "/models/good@" + good}}
	if m := p.Evaluate(ctx, goodRef, admission.EvalOptions{}).Models[0]; m.Outcome != admission.Admitted {
		t.Fatalf("warm-up: %s: %s", m.Outcome, m.Reason)
	}

	tr.gate = make(chan struct{})
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	stuck := make(chan admission.ModelDecision, 1)
	go func() {
		stuck <- p.Evaluate(stuckCtx, []admission.Model{{Ref: host + "/models/stuck@" + unknownDigest(0)}}, admission.EvalOptions{}).Models[0]
	}()
	// Wait until the stuck verification holds the only slot.
	for tr.inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	if m := p.Evaluate(ctx, goodRef, admission.EvalOptions{}).Models[0]; m.Outcome != admission.Admitted || !m.Cached {
		t.Errorf("cached admission while the slots are taken: %s (cached %v): %s", m.Outcome, m.Cached, m.Reason)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	other := []admission.Model{{Ref: host + "/models/m@" + unknownDigest(1)}}
	m := p.Evaluate(short, other, admission.EvalOptions{}).Models[0]
	if m.Outcome != admission.Undecided || !strings.Contains(m.Reason, "deadline") || !strings.Contains(m.Reason, "fail closed") {
		t.Errorf("request without a slot: %s: %s", m.Outcome, m.Reason)
	}

	cancelStuck()
	close(tr.gate)
	<-stuck
	// The undecided answer was not cached: with a slot free, the digest is
	// verified and denied for what it is.
	if m := p.Evaluate(ctx, other, admission.EvalOptions{}).Models[0]; m.Outcome != admission.Denied || m.Cached {
		t.Errorf("after the slots free up: %s (cached %v): %s", m.Outcome, m.Cached, m.Reason)
	}
}
