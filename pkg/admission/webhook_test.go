package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modelverify/modelverify/internal/testutil/kube"
)

type testServer struct {
	url        string
	client     *http.Client
	policyFile string
	certDir    string
	ca         *kube.CA
	handler    *Handler
}

// startServer runs Serve over TLS on 127.0.0.1 with a policy file and a
// test CA, and stops it when the test ends.
func startServer(t *testing.T, w *world, policyText string) *testServer {
	t.Helper()
	dir := t.TempDir()
	s := &testServer{policyFile: filepath.Join(dir, "policy.yaml"), certDir: dir, ca: kube.NewCA(t)}
	if err := os.WriteFile(s.policyFile, []byte(policyText), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := s.ca.ServingFiles(t, dir, "webhook-1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *Handler, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, ServerOptions{
			PolicyFile: s.policyFile,
			Compile: func(doc *PolicyDocument) (*Policy, error) {
				return Compile(doc, Options{Resolver: w, Authorities: w.compiler(), Metrics: m})
			},
			CertFile: certFile, KeyFile: keyFile,
			WatchInterval: 20 * time.Millisecond,
			Metrics:       m,
			Started:       func(h *Handler) { started <- h },
		})
	}()
	select {
	case s.handler = <-started:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	s.url = "https://" + ln.Addr().String()
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: s.ca.ClientTLS()}, Timeout: 10 * time.Second}
	return s
}

func reviewOf(t testing.TB, kind metav1.GroupVersionKind, op admissionv1.Operation, obj []byte) []byte {
	t.Helper()
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "4f9c0e1a-0000-4000-8000-000000000001", Kind: kind, Operation: op,
			Namespace: "ml", Name: "x", Object: runtime.RawExtension{Raw: obj},
		},
	}
	b, err := json.Marshal(rev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *testServer) post(t testing.TB, path string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := s.client.Post(s.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("bad review: %s", b)
	}
	if out.Response.UID != "4f9c0e1a-0000-4000-8000-000000000001" {
		t.Fatalf("response UID %q does not echo the request", out.Response.UID)
	}
	return out.Response
}

var podKind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

func podWith(images ...string) []byte {
	var cs []map[string]string
	for i, im := range images {
		cs = append(cs, map[string]string{"name": "c" + string(rune('a'+i)), "image": im})
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"containers": cs}})
	return b
}

func TestValidateOverTLS(t *testing.T) {
	w := newWorld()
	good, bad := digestOf("good"), digestOf("bad")
	w.sign("release", good, clean)
	w.sign("release", bad, dangerous(4))
	s := startServer(t, w, testPolicy("enforce", ""))

	resp := s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+good, "registry.test/system/pause:3")))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("signed pod: %+v", resp)
	}
	resp = s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create,
		podWith("registry.test/models/a@"+good, "registry.test/models/b@"+bad, "registry.test/models/c@"+digestOf("nosig"), "registry.test/models/d:v1")))
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden {
		t.Fatalf("bad pod allowed: %+v", resp)
	}
	for _, want := range []string{"3 models not admitted", "spec.containers[cb].image", "critical findings", "spec.containers[cc].image", "no valid signature", "spec.containers[cd].image", "not pinned"} {
		if !strings.Contains(resp.Result.Message, want) {
			t.Errorf("message %q lacks %q", resp.Result.Message, want)
		}
	}
	// DELETE carries no new object and is not ours to judge.
	if resp := s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Delete, nil)); !resp.Allowed {
		t.Errorf("DELETE denied: %+v", resp)
	}
}

func TestUpdateJudgesOnlyNewReferences(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	s := startServer(t, w, testPolicy("enforce", ""))
	unsigned := "registry.test/models/old@" + digestOf("old")
	update := func(oldObj, newObj []byte) *admissionv1.AdmissionResponse {
		var rev admissionv1.AdmissionReview
		json.Unmarshal(reviewOf(t, podKind, admissionv1.Update, newObj), &rev)
		rev.Request.OldObject.Raw = oldObj
		b, _ := json.Marshal(rev)
		return s.post(t, "/validate", b)
	}
	// A Pod admitted before the policy changed can still be relabelled...
	if resp := update(podWith(unsigned), podWith(unsigned)); !resp.Allowed {
		t.Fatalf("unchanged reference judged again: %+v", resp.Result)
	}
	// ...but a new reference is judged.
	if resp := update(podWith(unsigned), podWith(unsigned, "registry.test/models/new@"+digestOf("new"))); resp.Allowed ||
		!strings.Contains(resp.Result.Message, "registry.test/models/new@") || strings.Contains(resp.Result.Message, "models/old") {
		t.Fatalf("got %+v", resp.Result)
	}
}

func TestValidateFailsClosedOnRegistryError(t *testing.T) {
	w := newWorld()
	down := digestOf("down")
	w.broken[down] = errors.New("GET https://registry.test/v2/: dial tcp: connection refused")
	s := startServer(t, w, testPolicy("enforce", ""))
	resp := s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+down)))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "fail closed") || !strings.Contains(resp.Result.Message, "connection refused") {
		t.Fatalf("got %+v", resp)
	}
}

func TestWarnModeOverTLS(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, testPolicy("warn", ""))
	resp := s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+digestOf("x"))))
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "no valid signature") {
		t.Fatalf("got %+v", resp)
	}
}

func TestMutatePinsTags(t *testing.T) {
	w := newWorld()
	llama, weights, extra := digestOf("llama"), digestOf("weights"), digestOf("extra")
	w.tag("registry.test/models/llama:v1", llama)
	w.tag("registry.test/models/weights:v3", weights)
	w.tag("registry.test/models/extra:v1", extra)
	s := startServer(t, w, testPolicy("enforce", ""))
	obj := readObject(t, "pod.json")
	resp := s.post(t, "/mutate", reviewOf(t, podKind, admissionv1.Create, obj))
	if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("got %+v", resp)
	}
	// second:v2 does not exist: it stays as written, with a warning.
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "registry.test/models/second:v2") {
		t.Errorf("warnings %q", resp.Warnings)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(obj)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Extract(Kind{"", "v1", "Pod"}, patched)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fs {
		got[f.Source] = f.Ref
	}
	want := map[string]string{
		"metadata.annotations[modelverify.dev/models][0]": "registry.test/models/extra:v1@" + extra,
		"metadata.annotations[modelverify.dev/models][1]": "registry.test/models/second:v2",
		"spec.initContainers[fetch].image":                "registry.test/system/fetch:1", // allow rule: untouched
		"spec.containers[app].image":                      "registry.test/models/llama:v1@" + llama,
		"spec.containers[side].image":                     "registry.test/system/side:2",
		"spec.ephemeralContainers[debug].image":           "registry.test/system/debug:3",
		"spec.volumes[weights].image.reference":           "registry.test/models/weights:v3@" + weights,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// What mutate pinned, validate then judges by digest.
	w.sign("ci", llama, clean)
	resp = s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith(got["spec.containers[app].image"])))
	if !resp.Allowed {
		t.Fatalf("pinned, signed model denied: %+v", resp.Result)
	}
}

func TestMetricsCountDecisionsAndCacheHits(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	s := startServer(t, w, testPolicy("enforce", ""))
	for range 3 {
		s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+good)))
	}
	s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+digestOf("no"))))
	body := s.get(t, "/metrics", http.StatusOK)
	for _, want := range []string{
		`modelverify_admission_decisions_total{decision="allowed",endpoint="validate"} 3`,
		`modelverify_admission_decisions_total{decision="denied",endpoint="validate"} 1`,
		`modelverify_admission_cache_requests_total{result="hit"} 2`,
		`modelverify_admission_cache_requests_total{result="miss"} 2`,
		`modelverify_admission_request_duration_seconds_count{endpoint="validate"} 4`,
		`modelverify_admission_models_total{outcome="denied"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if got := s.get(t, "/healthz", http.StatusOK); got != "ok\n" {
		t.Errorf("healthz %q", got)
	}
	s.get(t, "/readyz", http.StatusOK)
}

func (s *testServer) get(t testing.TB, path string, status int) string {
	t.Helper()
	resp, err := s.client.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, status, b)
	}
	return string(b)
}

func TestBadRequests(t *testing.T) {
	s := startServer(t, newWorld(), testPolicy("enforce", ""))
	do := func(method, ctype string, body []byte) int {
		req, _ := http.NewRequest(method, s.url+"/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	valid := reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a:v1"))
	tests := []struct {
		name   string
		method string
		ctype  string
		body   []byte
		want   int
	}{
		{"GET is refused", http.MethodGet, "application/json", nil, http.StatusMethodNotAllowed},
		{"a non-JSON content type is refused", http.MethodPost, "text/plain", valid, http.StatusUnsupportedMediaType},
		{"garbage is refused", http.MethodPost, "application/json", []byte("{not json"), http.StatusBadRequest},
		{"a review without a request is refused", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"a v1beta1 review is refused", http.MethodPost, "application/json", bytes.Replace(valid, []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1), http.StatusBadRequest},
		{"an oversized body is refused", http.MethodPost, "application/json", append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), maxReviewSize)...), '"', '}'), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		if got := do(tt.method, tt.ctype, tt.body); got != tt.want {
			t.Errorf("%s: HTTP %d, want %d", tt.name, got, tt.want)
		}
	}
	// A Pod that does not decode is denied, not allowed.
	resp := s.post(t, "/validate", reviewOf(t, podKind, admissionv1.Create, []byte(`{"spec":{"containers":7}}`)))
	if resp.Allowed {
		t.Error("an undecodable Pod was allowed")
	}
}

func TestPolicyAndCertificateReload(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, testPolicy("enforce", ""))
	review := reviewOf(t, podKind, admissionv1.Create, podWith("registry.test/models/a@"+digestOf("x")))
	if resp := s.post(t, "/validate", review); resp.Allowed {
		t.Fatal("enforce mode allowed an unsigned model")
	}
	// A broken policy is refused and the old one stays.
	if err := os.WriteFile(s.policyFile, []byte("kind: nonsense"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait until the watcher has seen the broken file (a fixed sleep lost
	// the race on a loaded machine, and the good file then came first).
	eventually(t, func() bool {
		return strings.Contains(s.get(t, "/metrics", http.StatusOK), `modelverify_admission_reloads_total{result="error",what="policy"}`)
	})
	if resp := s.post(t, "/validate", review); resp.Allowed {
		t.Fatal("a broken policy replaced the old one")
	}
	if err := os.WriteFile(s.policyFile, []byte(testPolicy("warn", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return s.post(t, "/validate", review).Allowed })

	s.ca.ServingFiles(t, s.certDir, "webhook-2")
	eventually(t, func() bool {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url, "https://"), s.ca.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName == "webhook-2"
	})
	if m := s.get(t, "/metrics", http.StatusOK); !strings.Contains(m, `modelverify_admission_reloads_total{result="ok",what="certificate"}`) ||
		!strings.Contains(m, `modelverify_admission_reloads_total{result="error",what="policy"}`) {
		t.Errorf("reloads not counted:\n%s", grep(m, "reloads"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(reviewOf(f, podKind, admissionv1.Create, readObject(f, "pod.json")))
	f.Add(reviewOf(f, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, admissionv1.Update, readObject(f, "deployment.json")))
	f.Add(reviewOf(f, metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, admissionv1.Create, readObject(f, "cronjob.json")))
	w := newWorld()
	w.sign("release", digestOf("x"), clean)
	w.tag("registry.test/models/llama:v1", digestOf("x"))
	doc, err := ParsePolicy(strings.NewReader(testPolicy("enforce", "")), "")
	if err != nil {
		f.Fatal(err)
	}
	p, err := Compile(doc, Options{Resolver: w, Authorities: w.compiler()})
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(p, HandlerOptions{})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/validate", "/mutate"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.Routes().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				continue
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("%s: HTTP 200 without a review: %s", path, rec.Body.Bytes())
			}
			if path == "/validate" && out.Response.Allowed {
				// Anything admitted must hold only admissible references.
				var in admissionv1.AdmissionReview
				json.Unmarshal(body, &in)
				if in.Request != nil && len(in.Request.Object.Raw) > 0 && in.Request.Operation == admissionv1.Create && in.Request.SubResource == "" {
					found, err := Extract(Kind{in.Request.Kind.Group, in.Request.Kind.Version, in.Request.Kind.Kind}, in.Request.Object.Raw)
					if err == nil {
						d := p.Evaluate(context.Background(), Models(found), EvalOptions{})
						if !d.Allowed() {
							t.Fatalf("admitted an object the policy denies: %s", d.Message())
						}
					}
				}
			}
		}
	})
}
