// Latency of the admission webhook's /validate over TLS against a local CNCF
// distribution registry (signature and scan attestation found through the
// referrers tag schema, verified with pkg/sign): a decision taken from the
// cache (Cached), one taken afresh for a model seen before (Uncached: the
// manifests and bundles are in the content cache, the referrers are listed
// again), and one for a model never seen (NewModel: everything read from the
// registry), and a cached decision while a flood of requests names digests
// no cache holds (DistinctDigestFlood).
//
//	go test ./bench -run XXX -bench Admission -benchtime 300x
//
// Reported: p50 and p99 in milliseconds (ns/op is the mean).
package bench_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
)

type admissionBench struct {
	url     string
	client  *http.Client
	body    []byte
	h       *admission.Handler
	fresh   func() *admission.Policy
	host    string
	release *kube.Signer
}

func setupAdmission(b *testing.B) *admissionBench {
	host := registry.StartDistribution(b)
	dir := b.TempDir()
	release := kube.NewSigner(b, dir, "release")
	files := map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": []byte(`{"bench":true}`), "tokenizer.json": bytes.Repeat([]byte("t"), 4096)}
	d := kube.Publish(b, host, "models/bench", "v1", kube.Model{Files: files, SignedBy: release, ScanBy: release})
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(kube.PolicyYAML(host, "enforce", release.PubPath)), 0o600); err != nil {
		b.Fatal(err)
	}
	ca := kube.NewCA(b)
	certFile, keyFile := ca.ServingFiles(b, dir, "bench")
	reg := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}})
	compile := func(doc *admission.PolicyDocument) (*admission.Policy, error) {
		return reg.Compile(doc, admission.Options{})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan *admission.Handler, 1)
	go func() {
		done <- admission.Serve(ctx, ln, admission.ServerOptions{
			PolicyFile: policyFile, Compile: compile, CertFile: certFile, KeyFile: keyFile,
			Started: func(h *admission.Handler) { started <- h },
		})
	}()
	ab := &admissionBench{url: "https://" + ln.Addr().String() + "/validate", host: host, release: release}
	select {
	case ab.h = <-started:
	case err := <-done:
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); <-done })
	ab.client = &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS(), MaxIdleConnsPerHost: 4}}
	ab.fresh = func() *admission.Policy {
		doc, err := admission.LoadPolicy(policyFile)
		if err != nil {
			b.Fatal(err)
		}
		p, err := compile(doc)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	ab.body = reviewFor(host + "/models/bench@" + d)
	ab.validate(b) // connect, and check the model is admitted
	return ab
}

// reviewFor is an AdmissionReview of a Pod that runs image.
func reviewFor(image string) []byte {
	pod, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "bench"},
		"spec": map[string]any{"containers": []map[string]string{{"name": "model", "image": image}}}})
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "bench", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Namespace: "ml", Object: runtime.RawExtension{Raw: pod}},
	})
	return body
}

func (ab *admissionBench) validate(b *testing.B) {
	resp, err := ab.client.Post(ab.url, "application/json", bytes.NewReader(ab.body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &rev); err != nil || rev.Response == nil || !rev.Response.Allowed {
		b.Fatalf("not admitted: %s", raw)
	}
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / 1e6 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func BenchmarkAdmissionValidateCached(b *testing.B) {
	ab := setupAdmission(b)
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		ab.validate(b)
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

func BenchmarkAdmissionValidateUncached(b *testing.B) {
	ab := setupAdmission(b)
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		// A freshly compiled policy has an empty cache: the request
		// resolves the digest and verifies signature and scan again.
		b.StopTimer()
		ab.h.SetPolicy(ab.fresh())
		b.StartTimer()
		start := time.Now()
		ab.validate(b)
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

func BenchmarkAdmissionValidateNewModel(b *testing.B) {
	ab := setupAdmission(b)
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// A model published just now, signed and attested: nothing about
		// it is cached.
		b.StopTimer()
		files := map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": fmt.Appendf(nil, `{"bench":%d}`, i)}
		digest := kube.Publish(b, ab.host, "models/bench", fmt.Sprintf("n%d", i), kube.Model{Files: files, SignedBy: ab.release, ScanBy: ab.release})
		ab.body = reviewFor(ab.host + "/models/bench@" + digest)
		b.StartTimer()
		start := time.Now()
		ab.validate(b)
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// Cached admissions while a flood of requests names distinct digests that
// the registry does not have (8 clients without pause, each digest new, so
// no cache helps): the flood queues for the verification slots, the cached
// decisions do not. Also reported: flood requests answered per second.
func BenchmarkAdmissionDistinctDigestFlood(b *testing.B) {
	ab := setupAdmission(b)
	ctx, stop := context.WithCancel(context.Background())
	var flood sync.WaitGroup
	var answered atomic.Int64
	for c := range 8 {
		flood.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				digest := fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Appendf(nil, "flood %d %d", c, i)))
				resp, err := ab.client.Post(ab.url, "application/json", bytes.NewReader(reviewFor(ab.host+"/models/bench@"+digest)))
				if err != nil {
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var rev admissionv1.AdmissionReview
				if json.Unmarshal(raw, &rev) == nil && rev.Response != nil && !rev.Response.Allowed {
					answered.Add(1)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // the flood is under way
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		ab.validate(b)
		d = append(d, time.Since(t0))
	}
	took := time.Since(start)
	b.StopTimer()
	stop()
	flood.Wait()
	reportPercentiles(b, d)
	b.ReportMetric(float64(answered.Load())/took.Seconds(), "flood-denials/s")
}
