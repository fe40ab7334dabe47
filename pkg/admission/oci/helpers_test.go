package oci_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
)

func writePolicy(t testing.TB, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func compile(t testing.TB, policyFile string, opts admission.Options) *admission.Policy {
	t.Helper()
	doc, err := admission.LoadPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}}).Compile(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// podAllowed posts an AdmissionReview of a Pod that runs image to the
// webhook at addr and reports whether it was allowed.
func podAllowed(t *testing.T, client *http.Client, addr, image string) bool {
	t.Helper()
	pod, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
		"spec": map[string]any{"containers": []map[string]string{{"name": "m", "image": image}}}})
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: pod}},
	})
	resp, err := client.Post("https://"+addr+"/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &rev); err != nil || rev.Response == nil {
		t.Fatalf("bad response: %s", raw)
	}
	return rev.Response.Allowed
}
