package oci

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/manifest"
)

// countingTransport counts requests by method and path.
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(method, pathSuffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for k, v := range c.n {
		if strings.HasPrefix(k, method+" ") && strings.HasSuffix(k, pathSuffix) {
			total += v
		}
	}
	return total
}

func TestContentCacheReadsEachDigestOnce(t *testing.T) {
	ctx := context.Background()
	host := registry.NewInProcess(t, false) // tag-schema fallback
	signer := kube.NewSigner(t, t.TempDir(), "s")
	d := kube.Publish(t, host, "models/m", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle}, SignedBy: signer, ScanBy: signer})
	ct := &countingTransport{n: map[string]int{}}
	ref, _ := manifest.ParseRef("oci://" + host + "/models/m")
	inner, err := manifest.Open(ctx, ref, manifest.RegistryOptions{PlainHTTP: true, HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	target := withCache(inner, host+"/models/m", newContentCache())
	for range 3 {
		desc, err := target.Resolve(ctx, d)
		if err != nil || desc.Digest.String() != d {
			t.Fatalf("resolve: %v %v", desc, err)
		}
		if _, err := content.FetchAll(ctx, target, desc); err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.Referrers(ctx, target, desc, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := target.Resolve(ctx, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.count("HEAD", "/manifests/"+d) + ct.count("GET", "/manifests/"+d); n != 1 {
		t.Errorf("the manifest was asked for %d times, want 1 (resolved with a GET, kept, then read from memory)", n)
	}
	// Tags and referrer listings are always asked again.
	if n := ct.count("HEAD", "/manifests/v1") + ct.count("GET", "/manifests/v1"); n != 3 {
		t.Errorf("the tag was resolved %d times, want 3", n)
	}
	fallback := "/manifests/" + strings.Replace(d, ":", "-", 1)
	if n := ct.count("GET", fallback) + ct.count("HEAD", fallback); n < 3 {
		t.Errorf("the referrers were listed %d times, want 3", n)
	}
}

func TestContentCacheChecksAndBoundsWhatItKeeps(t *testing.T) {
	ctx := context.Background()
	host := registry.NewInProcess(t, true)
	ref, _ := manifest.ParseRef("oci://" + host + "/models/m")
	inner, err := manifest.Open(ctx, ref, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("some bytes")
	good := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	if err := inner.Push(ctx, good, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	c := newContentCache()
	target := withCache(inner, "r", c)
	// Content that does not match its descriptor's size is refused, and
	// not kept.
	lying := good
	lying.Size++
	if _, err := content.FetchAll(ctx, target, lying); err == nil {
		t.Error("content of another size was accepted")
	}
	if _, ok := c.get("r@" + lying.Digest.String()); ok {
		t.Error("refused content was kept")
	}
	if got, err := content.FetchAll(ctx, target, good); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetch: %q %v", got, err)
	}
	// The cache stays within its byte budget, dropping the least recent.
	big := bytes.Repeat([]byte("x"), cacheMaxItem)
	for i := range 2 * cacheMaxBytes / cacheMaxItem {
		c.put(&cacheEntry{key: string(rune('a' + i)), data: big})
	}
	if c.bytes > cacheMaxBytes {
		t.Errorf("cache holds %d bytes, budget %d", c.bytes, cacheMaxBytes)
	}
	if _, ok := c.get("a"); ok {
		t.Error("the oldest entry was not dropped")
	}
	c.put(&cacheEntry{key: "huge", data: make([]byte, cacheMaxItem+1)})
	if _, ok := c.get("huge"); ok {
		t.Error("an entry above the item limit was kept")
	}
}

func TestUnknownDigestIsDeniedAndAskedOnceWithinNegativeTTL(t *testing.T) {
	ctx := context.Background()
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	signer := kube.NewSigner(t, dir, "s")
	kube.Publish(t, host, "models/m", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle}, SignedBy: signer, ScanBy: signer})
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(kube.PolicyYAML(host, "enforce", signer.PubPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := admission.LoadPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1e9, 0)
	ct := &countingTransport{n: map[string]int{}}
	reg := New(Options{Registry: manifest.RegistryOptions{PlainHTTP: true, HTTPClient: &http.Client{Transport: ct}}})
	p, err := reg.Compile(doc, admission.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	unknown := digest.FromString("never pushed").String()
	models := []admission.Model{{Ref: host + "/models/m@" + unknown}}
	asked := func() int { return ct.count("GET", "/manifests/"+unknown) + ct.count("HEAD", "/manifests/"+unknown) }

	md := p.Evaluate(ctx, models, admission.EvalOptions{}).Models[0]
	if md.Outcome != admission.Denied || !strings.Contains(md.Reason, "no manifest") {
		t.Fatalf("unknown digest: %s %q, want denied (not undecided) naming the missing manifest", md.Outcome, md.Reason)
	}
	first := asked()
	if first == 0 {
		t.Fatal("the registry was not asked")
	}
	for range 100 {
		if md := p.Evaluate(ctx, models, admission.EvalOptions{}).Models[0]; md.Outcome != admission.Denied || !md.Cached {
			t.Fatalf("repeat: %+v", md)
		}
	}
	if n := asked(); n != first {
		t.Errorf("100 repeats asked the registry %d more times, want 0", n-first)
	}
	if st := p.CacheStats(); st.NegativeHits != 100 || st.Misses != 1 || st.Hits != 0 {
		t.Errorf("stats %+v", st)
	}
	now = now.Add(admission.DefaultNegativeCacheTTL)
	if md := p.Evaluate(ctx, models, admission.EvalOptions{}).Models[0]; md.Cached {
		t.Fatalf("after the negative TTL: %+v", md)
	}
	if asked() == first {
		t.Error("the registry was not asked again after the negative TTL")
	}
}
