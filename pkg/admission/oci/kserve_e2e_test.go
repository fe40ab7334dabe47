package oci_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

var (
	inferenceServices    = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}
	llmInferenceServices = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1alpha1", Resource: "llminferenceservices"}
)

func inferenceService(name, storageURI string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{"predictor": map[string]any{
			"model": map[string]any{"modelFormat": map[string]any{"name": "sklearn"}, "storageUri": storageURI},
		}},
	}}
}

func llmInferenceService(name, uri string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1alpha1",
		"kind":       "LLMInferenceService",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"model": map[string]any{"uri": uri, "name": name}},
	}}
}

// kservePolicy verifies oci:// models under HOST/models/**, allows the
// s3://approved bucket without verification and leaves every other storage
// URI to the default denial.
func kservePolicy(host, pubPath string) string {
	return `apiVersion: modelverify.dev/v1alpha1
kind: ModelPolicy
metadata: {name: kserve}
spec:
  mode: enforce
  noMatch: deny
  rules:
    - name: approved-bucket
      match: ["s3://approved/**"]
      action: allow
    - name: models
      match: ["` + host + `/models/**"]
      authorities:
        - {name: release, key: {path: ` + pubPath + `}}
      scan: {required: true, maxSeverity: medium}
`
}

func TestKServeEndToEndWithKubeAPIServer(t *testing.T) {
	cfg := kube.StartAPIServer(t, "testdata/crds")
	host := registry.NewInProcess(t, true)
	ctx := context.Background()
	dir := t.TempDir()

	release := kube.NewSigner(t, dir, "release")
	model := func(name string, payload []byte) map[string][]byte {
		return map[string][]byte{"model.pkl": payload, "config.json": []byte(`{"name":"` + name + `"}`)}
	}
	good := kube.Publish(t, host, "models/good", "v1", kube.Model{Files: model("good", kube.BenignPickle), SignedBy: release, ScanBy: release})
	unsigned := kube.Publish(t, host, "models/unsigned", "v1", kube.Model{Files: model("unsigned", kube.BenignPickle)})
	dangerous := kube.Publish(t, host, "models/dangerous", "v1", kube.Model{Files: model("dangerous", kube.DangerousPickle), SignedBy: release, ScanBy: release})
	forged := kube.Forge(t, host, "models/good", good)

	policyFile := writePolicy(t, dir, kservePolicy(host, release.PubPath))
	ca := kube.NewCA(t)
	certFile, keyFile := ca.ServingFiles(t, dir, "modelverify-webhook")
	wh := startWebhook(t, policyFile, certFile, keyFile)

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "serving"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mutating, validating := webhookConfigs(t, "https://"+wh.addr, ca.PEM)
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, validating, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	isvcs := dyn.Resource(inferenceServices).Namespace("serving")
	llms := dyn.Resource(llmInferenceServices).Namespace("serving")

	// The CRDs are served and the API server calls the webhook for them.
	retry(t, "validating webhook active for InferenceServices", func() error {
		_, err := isvcs.Create(ctx, inferenceService("probe", "oci://"+host+"/models/unsigned@"+unsigned), metav1.CreateOptions{})
		if err == nil {
			isvcs.Delete(ctx, "probe", metav1.DeleteOptions{})
			return errors.New("an unsigned model was admitted")
		}
		if !strings.Contains(err.Error(), "no valid signature") {
			return err
		}
		return nil
	})

	admitted := []struct {
		name string
		obj  *unstructured.Unstructured
		res  dynamic.ResourceInterface
	}{
		{"an InferenceService with a signed, scanned oci:// model", inferenceService("good", "oci://"+host+"/models/good@"+good), isvcs},
		{"an LLMInferenceService with a signed, scanned oci:// model", llmInferenceService("good-llm", "oci://"+host+"/models/good@"+good), llms},
		{"an InferenceService from a bucket that a rule allows", inferenceService("approved", "s3://approved/models/sklearn"), isvcs},
	}
	for _, tt := range admitted {
		t.Run(tt.name+" is created", func(t *testing.T) {
			if _, err := tt.res.Create(ctx, tt.obj, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}

	refused := []struct {
		name string
		obj  *unstructured.Unstructured
		res  dynamic.ResourceInterface
		want []string
	}{
		{"an InferenceService with an unsigned model", inferenceService("unsigned", "oci://"+host+"/models/unsigned@"+unsigned), isvcs,
			[]string{`admission webhook "validate.modelverify.dev" denied the request`, "spec.predictor.model.storageUri", "no valid signature"}},
		{"an InferenceService with a tampered model (signatures copied onto another manifest)", inferenceService("forged", "oci://"+host+"/models/good@"+forged), isvcs,
			[]string{"spec.predictor.model.storageUri", "no valid signature"}},
		{"an InferenceService with a dangerous model", inferenceService("dangerous", "oci://"+host+"/models/dangerous@"+dangerous), isvcs,
			[]string{"critical findings"}},
		{"an LLMInferenceService with an unsigned model", llmInferenceService("unsigned-llm", "oci://"+host+"/models/unsigned@"+unsigned), llms,
			[]string{"spec.model.uri", "no valid signature"}},
		{"an InferenceService from a bucket no rule allows", inferenceService("s3", "s3://other/models/sklearn"), isvcs,
			[]string{"s3://other/models/sklearn cannot be verified", "only oci:// models carry signatures"}},
		{"an LLMInferenceService from Hugging Face", llmInferenceService("hf", "hf://org/model"), llms,
			[]string{"spec.model.uri", "hf://org/model cannot be verified"}},
	}
	for _, tt := range refused {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			_, err := tt.res.Create(ctx, tt.obj, metav1.CreateOptions{})
			if err == nil {
				t.Fatal("created")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}

	t.Run("the mutating webhook pins a storage URI tag to the digest that is then verified", func(t *testing.T) {
		if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var created *unstructured.Unstructured
		retry(t, "create an InferenceService by tag", func() error {
			var err error
			created, err = isvcs.Create(ctx, inferenceService("bytag", "oci://"+host+"/models/good:v1"), metav1.CreateOptions{})
			return err
		})
		got, _, _ := unstructured.NestedString(created.Object, "spec", "predictor", "model", "storageUri")
		if want := "oci://" + host + "/models/good:v1@" + good; got != want {
			t.Errorf("stored storageUri %q, want %q", got, want)
		}
		_, err := llms.Create(ctx, llmInferenceService("unsigned-tag", "oci://"+host+"/models/unsigned:v1"), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "no valid signature") {
			t.Errorf("a tag of an unsigned model: got %v", err)
		}
	})
}
