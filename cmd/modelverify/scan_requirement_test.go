package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// The same signed scan attestations go to verify --require-scan, admit and
// the webhook; all three give the same answer, because one rule
// (attest.Requirement) decides. The policy's maxSeverity medium is
// --require-scan high.
func TestScanAttestationsGetTheSameAnswerEverywhere(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	release := kube.NewSigner(t, dir, "release")
	finding := func(sev scan.Severity) []attest.Finding {
		return []attest.Finding{{Path: "model.pkl", Finding: scan.Finding{RuleID: scan.RuleDangerousGlobal, Severity: sev}}}
	}
	cases := []struct {
		name string
		p    attest.Predicate
		pass bool
	}{
		{"clean", attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "none"}, true},
		{"clean with a medium finding", attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "medium", Findings: finding(scan.SeverityMedium)}, true},
		{"a critical finding", attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: "critical", Findings: finding(scan.SeverityCritical)}, false},
		{"a high finding", attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: "high", Findings: finding(scan.SeverityHigh)}, false},
		{"dangerous without findings", attest.Predicate{Verdict: scan.VerdictDangerous, MaxSeverity: "none"}, false},
		{"malformed", attest.Predicate{Verdict: scan.VerdictMalformed, MaxSeverity: "none"}, false},
		{"unsupported", attest.Predicate{Verdict: scan.VerdictUnsupported, MaxSeverity: "none"}, false},
		{"an unknown verdict", attest.Predicate{Verdict: "fine", MaxSeverity: "none"}, false},
		{"a declared critical severity without the findings", attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "critical"}, false},
		{"an unknown severity name", attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "catastrophic"}, false},
		{"a finding the summary hides", attest.Predicate{Verdict: scan.VerdictClean, MaxSeverity: "none", Findings: finding(scan.SeverityCritical)}, false},
	}
	policyPath := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(kube.PolicyYAML(host, "enforce", release.PubPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := admission.LoadPolicy(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}}).Compile(doc, admission.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := admission.NewHandler(pol, admission.HandlerOptions{})
	ctx := context.Background()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := fmt.Sprintf("models/case%d", i)
			digest := kube.Publish(t, host, repo, "v1", kube.Model{
				Files: map[string][]byte{"model.pkl": kube.BenignPickle, "n": []byte(repo)}, SignedBy: release})
			mref, err := manifest.ParseRef("oci://" + host + "/" + repo + ":v1")
			if err != nil {
				t.Fatal(err)
			}
			target, err := manifest.Open(ctx, mref, manifest.RegistryOptions{PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			desc, _, err := manifest.Resolve(ctx, target, mref)
			if err != nil || desc.Digest.String() != digest {
				t.Fatalf("resolve: %v %s", err, desc.Digest)
			}
			st := attest.New(host+"/"+repo, desc.Digest.Encoded(), scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, nil))
			st.Predicate = c.p
			st.Predicate.ScannedAt = time.Now().UTC()
			if _, err := sign.AttestOCI(ctx, release.Signer, target, desc, st, attest.PredicateType); err != nil {
				t.Fatal(err)
			}
			ref := host + "/" + repo + "@" + digest

			wantCode := 1
			if c.pass {
				wantCode = 0
			}
			expectExit(t, wantCode, "verify", "--plain-http", "--key", release.PubPath, "--require-scan=high", "oci://"+ref)
			expectExit(t, wantCode, "admit", "--plain-http", "--policy", policyPath, ref)

			pod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":%q}]}}`, ref)
			body, _ := json.Marshal(admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request: &admissionv1.AdmissionRequest{UID: "4f9c0e1a-0000-4000-8000-000000000002",
					Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create,
					Namespace: "ml", Name: "p", Object: runtime.RawExtension{Raw: []byte(pod)}},
			})
			req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.Routes().ServeHTTP(rec, req)
			var out admissionv1.AdmissionReview
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Response == nil {
				t.Fatalf("webhook: HTTP %d %s", rec.Code, rec.Body.Bytes())
			}
			if out.Response.Allowed != c.pass {
				t.Errorf("webhook allowed = %v, want %v (%v)", out.Response.Allowed, c.pass, out.Response.Result)
			}
		})
	}
}
