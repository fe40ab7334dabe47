package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var inferenceServiceKind = metav1.GroupVersionKind{Group: "serving.kserve.io", Version: "v1beta1", Kind: "InferenceService"}

// uriRules allow one bucket and deny one hub organisation, ahead of the
// test policy's rules.
const uriRules = `
    - name: approved-bucket
      match: ["s3://approved/**"]
      action: allow
    - name: no-hub
      match: ["hf://evil/*"]
      action: deny`

func uriPolicy(noMatch string) string {
	return strings.Replace(strings.Replace(testPolicy("enforce", ""), "noMatch: deny", "noMatch: "+noMatch, 1),
		"  rules:", "  rules:"+uriRules, 1)
}

func TestStorageURIs(t *testing.T) {
	w := newWorld()
	good := digestOf("good")
	w.sign("release", good, clean)
	w.tag("registry.test/models/good:v1", good)
	for _, noMatch := range []string{"deny", "allow"} {
		p := compileTest(t, w, uriPolicy(noMatch), Options{})
		tests := []struct {
			name    string
			m       Model
			outcome Outcome
			reason  string
		}{
			{"an oci:// storage URI is verified like an image", Model{Ref: "oci://registry.test/models/good@" + good, URI: true}, Admitted, "signed by release"},
			{"an unsigned oci:// storage URI is denied", Model{Ref: "oci://registry.test/models/x@" + digestOf("x"), URI: true}, Denied, "no valid signature"},
			{"an oci:// storage URI with a tag needs a digest", Model{Ref: "oci://registry.test/models/good:v1", URI: true}, Denied, "not pinned"},
			{"an s3:// URI that a rule allows is admitted", Model{Ref: "s3://approved/bert", URI: true}, Admitted, "allowed by rule"},
			{"an s3:// URI in another bucket is denied and named", Model{Ref: "s3://other/bert", URI: true}, Denied, "storage URI s3://other/bert cannot be verified"},
			{"a gs:// URI is denied", Model{Ref: "gs://bucket/iris", URI: true}, Denied, "gs://: only oci://"},
			{"an https:// URI is denied", Model{Ref: "https://example.test/m.tar.gz", URI: true}, Denied, "https://example.test/m.tar.gz cannot be verified"},
			{"a pvc:// URI is denied", Model{Ref: "pvc://claim/model", URI: true}, Denied, "pvc://claim/model"},
			{"an hf:// URI is denied by its deny rule", Model{Ref: "hf://evil/model"}, Denied, "rule denies these storage URIs"},
			{"an hf:// URI given as an argument is denied", Model{Ref: "hf://org/model"}, Denied, "hf://org/model cannot be verified"},
			{"a storage field without a scheme is denied", Model{Ref: "/mnt/models/bert", URI: true}, Denied, "has no URI scheme"},
		}
		for _, tt := range tests {
			t.Run("noMatch "+noMatch+"/"+tt.name, func(t *testing.T) {
				d := p.Evaluate(context.Background(), []Model{tt.m}, EvalOptions{})
				m := d.Models[0]
				if m.Outcome != tt.outcome || !strings.Contains(m.Reason, tt.reason) {
					t.Fatalf("got %s %q, want %s containing %q", m.Outcome, m.Reason, tt.outcome, tt.reason)
				}
			})
		}
	}
}

func TestStorageURIPatternsNeedAllowOrDeny(t *testing.T) {
	bad := strings.Replace(testPolicy("enforce", ""), `match: ["registry.test/models/**"]`, `match: ["registry.test/models/**", "s3://bucket/**"]`, 1)
	doc, err := ParsePolicy(strings.NewReader(bad), "")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld()
	if _, err := Compile(doc, Options{Resolver: w, Authorities: w.compiler()}); err == nil || !strings.Contains(err.Error(), "s3:// storage URIs cannot be verified") {
		t.Fatalf("got %v", err)
	}
}

func TestValidateInferenceService(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, uriPolicy("deny"))
	resp := s.post(t, "/validate", reviewOf(t, inferenceServiceKind, admissionv1.Create, readObject(t, "inferenceservice.json")))
	if resp.Allowed {
		t.Fatal("an InferenceService with unverifiable URIs was allowed")
	}
	for _, want := range []string{
		"spec.predictor.model.storageUri oci://registry.test/models/bert:v1",
		"storage URI s3://bucket/adapters/a cannot be verified",
		"hf://org/model", "gs://bucket/iris", "pvc://claim/model", "https://example.test/explainer.tar.gz",
	} {
		if !strings.Contains(resp.Result.Message, want) {
			t.Errorf("message does not contain %q:\n%s", want, resp.Result.Message)
		}
	}

	good := digestOf("bert")
	w.sign("release", good, clean)
	isvc := `{"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"bert"},
	  "spec":{"predictor":{"model":{"modelFormat":{"name":"pytorch"},"storageUri":"oci://registry.test/models/bert@` + good + `"}}}}`
	if resp := s.post(t, "/validate", reviewOf(t, inferenceServiceKind, admissionv1.Create, []byte(isvc))); !resp.Allowed {
		t.Fatalf("signed, scanned oci:// model denied: %+v", resp.Result)
	}
	unsigned := strings.Replace(isvc, good, digestOf("other"), 1)
	if resp := s.post(t, "/validate", reviewOf(t, inferenceServiceKind, admissionv1.Create, []byte(unsigned))); resp.Allowed || !strings.Contains(resp.Result.Message, "no valid signature") {
		t.Fatalf("unsigned oci:// model: %+v", resp)
	}
	allowed := strings.Replace(isvc, "oci://registry.test/models/bert@"+good, "s3://approved/bert", 1)
	if resp := s.post(t, "/validate", reviewOf(t, inferenceServiceKind, admissionv1.Create, []byte(allowed))); !resp.Allowed {
		t.Fatalf("allowed bucket denied: %+v", resp.Result)
	}
}

func TestMutatePinsStorageURIs(t *testing.T) {
	w := newWorld()
	bert := digestOf("bert")
	w.tag("registry.test/models/bert:v1", bert)
	s := startServer(t, w, uriPolicy("deny"))
	isvc := []byte(`{"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"bert"},
	  "spec":{"predictor":{"model":{"storageUri":"oci://registry.test/models/bert:v1"},"sklearn":{"storageUri":"s3://approved/x"}}}}`)
	resp := s.post(t, "/mutate", reviewOf(t, inferenceServiceKind, admissionv1.Create, isvc))
	if !resp.Allowed || resp.PatchType == nil {
		t.Fatalf("got %+v", resp)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(isvc)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Extract(KindInferenceService, patched)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fs {
		got[f.Source] = f.Ref
	}
	if want := "oci://registry.test/models/bert:v1@" + bert; got["spec.predictor.model.storageUri"] != want {
		t.Errorf("storageUri = %q, want %q", got["spec.predictor.model.storageUri"], want)
	}
	if got["spec.predictor.sklearn.storageUri"] != "s3://approved/x" {
		t.Errorf("an s3:// URI was changed: %q", got["spec.predictor.sklearn.storageUri"])
	}
}

func TestDenialLogNamesTheObject(t *testing.T) {
	w := newWorld()
	var buf bytes.Buffer
	h := NewHandler(compileTest(t, w, uriPolicy("deny"), Options{}), HandlerOptions{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "u1", Kind: inferenceServiceKind, Operation: admissionv1.Create, Namespace: "ml",
			Object: runtime.RawExtension{Raw: readObject(t, "inferenceservice.json")},
		},
	}
	body, _ := json.Marshal(rev)
	r := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeValidate(rec, r)
	var line struct {
		Kind, Name, GenerateName string
		Allowed                  bool
		Message                  string
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if line.Kind != "InferenceService" || line.GenerateName != "bert-" || line.Allowed || !strings.Contains(line.Message, "s3://bucket/adapters/a") {
		t.Errorf("log line %s", buf.String())
	}
}

func TestExtractManifests(t *testing.T) {
	text := `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: v1
kind: List
items:
  - apiVersion: serving.kserve.io/v1alpha1
    kind: LLMInferenceService
    metadata: {generateName: llm-}
    spec: {model: {uri: "hf://org/llama"}}
---
` + string(readObject(t, "modelcar-pod.json"))
	fs, skipped, err := ExtractManifests(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 1 || len(fs) != 5 {
		t.Fatalf("skipped %d, found %q", skipped, found(fs))
	}
	if fs[0].Source != "LLMInferenceService/llm-* spec.model.uri" || fs[0].Ref != "hf://org/llama" || !fs[0].URI {
		t.Errorf("first: %+v", fs[0])
	}
	if !strings.HasPrefix(fs[1].Source, "Pod/bert-predictor-00001-deployment-* metadata.annotations[") {
		t.Errorf("second: %+v", fs[1])
	}
	for name, bad := range map[string]string{
		"a document without a kind":          "metadata: {name: x}\n",
		"a document that is not YAML":        "kind: [\n",
		"a KServe object of the wrong shape": "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nspec: {predictor: 3}\n",
	} {
		if _, _, err := ExtractManifests(strings.NewReader(bad)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
