package admission

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func readObject(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/objects/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func found(fs []Found) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s#%d", f.Source, f.Ref, f.Pointer, f.Index))
	}
	return out
}

func TestExtractPod(t *testing.T) {
	fs, err := Extract(Kind{"", "v1", "Pod"}, readObject(t, "pod.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"metadata.annotations[modelverify.dev/models][0] registry.test/models/extra:v1 /metadata/annotations/modelverify.dev~1models#0",
		"metadata.annotations[modelverify.dev/models][1] registry.test/models/second:v2 /metadata/annotations/modelverify.dev~1models#1",
		"spec.initContainers[fetch].image registry.test/system/fetch:1 /spec/initContainers/0/image#-1",
		"spec.containers[app].image registry.test/models/llama:v1 /spec/containers/0/image#-1",
		"spec.containers[side].image registry.test/system/side:2 /spec/containers/1/image#-1",
		"spec.ephemeralContainers[debug].image registry.test/system/debug:3 /spec/ephemeralContainers/0/image#-1",
		"spec.volumes[weights].image.reference registry.test/models/weights:v3 /spec/volumes/0/image/reference#-1",
	}
	if got := found(fs); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestExtractWorkloads(t *testing.T) {
	deploy := readObject(t, "deployment.json")
	want := []string{
		"metadata.annotations[modelverify.dev/models][0] registry.test/models/top:v1 /metadata/annotations/modelverify.dev~1models#0",
		"spec.template.metadata.annotations[modelverify.dev/models][0] registry.test/models/tpl:v1 /spec/template/metadata/annotations/modelverify.dev~1models#0",
		"spec.template.spec.containers[app].image registry.test/models/llama:v1 /spec/template/spec/containers/0/image#-1",
		"spec.template.spec.volumes[w].image.reference registry.test/models/weights:v3 /spec/template/spec/volumes/0/image/reference#-1",
	}
	// Every workload with a pod template at spec.template reads the same.
	for _, k := range []Kind{{"apps", "v1", "Deployment"}, {"apps", "v1", "StatefulSet"}, {"apps", "v1", "DaemonSet"}, {"apps", "v1", "ReplicaSet"}, {"batch", "v1", "Job"}} {
		fs, err := Extract(k, deploy)
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		if got := found(fs); !slices.Equal(got, want) {
			t.Errorf("%s: got\n%q\nwant\n%q", k.Kind, got, want)
		}
	}
	fs, err := Extract(Kind{"batch", "v1", "CronJob"}, readObject(t, "cronjob.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := found(fs), []string{"spec.jobTemplate.spec.template.spec.containers[job].image registry.test/models/batch:v1 /spec/jobTemplate/spec/template/spec/containers/0/image#-1"}; !slices.Equal(got, want) {
		t.Errorf("CronJob: got %q want %q", got, want)
	}
}

func TestExtractRefusals(t *testing.T) {
	if _, err := Extract(Kind{"", "v1", "ConfigMap"}, []byte(`{}`)); !errors.Is(err, ErrUnsupportedKind) {
		t.Errorf("ConfigMap: %v", err)
	}
	if _, err := Extract(Kind{"", "v1", "Pod"}, []byte(`{"spec":{"containers":"no"}}`)); err == nil {
		t.Error("a malformed Pod decoded")
	}
	many := `{"metadata":{"annotations":{"modelverify.dev/models":"` + stringsRepeatComma("r.test/m:v", maxAnnotationModels+1) + `"}}}`
	if _, err := Extract(Kind{"", "v1", "Pod"}, []byte(many)); err == nil {
		t.Error("an oversized annotation was accepted")
	}
}

func stringsRepeatComma(s string, n int) string {
	b := make([]byte, 0, n*(len(s)+1))
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return string(b)
}

func FuzzExtract(f *testing.F) {
	kinds := []Kind{{"", "v1", "Pod"}, {"apps", "v1", "Deployment"}, {"batch", "v1", "CronJob"}, KindInferenceService, KindLLMInferenceService}
	for i, name := range []string{"pod.json", "deployment.json", "cronjob.json", "inferenceservice.json", "llminferenceservice.json"} {
		f.Add(uint8(i), readObject(f, name))
	}
	f.Fuzz(func(t *testing.T, k uint8, raw []byte) {
		fs, err := Extract(kinds[int(k)%len(kinds)], raw)
		if err != nil {
			return
		}
		for _, f := range fs {
			if f.Ref == "" || f.Pointer == "" {
				t.Fatalf("empty reference or pointer: %+v", f)
			}
		}
	})
}

func TestExtractInferenceService(t *testing.T) {
	fs, err := Extract(KindInferenceService, readObject(t, "inferenceservice.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"metadata.annotations[modelverify.dev/models][0] registry.test/models/extra:v1 /metadata/annotations/modelverify.dev~1models#0",
		"spec.predictor.model.storageUri oci://registry.test/models/bert:v1 /spec/predictor/model/storageUri#-1",
		"spec.predictor.model.storageUris[0] s3://bucket/adapters/a /spec/predictor/model/storageUris/0/uri#-1",
		"spec.predictor.model.storageUris[1] hf://org/model /spec/predictor/model/storageUris/1#-1",
		"spec.predictor.sklearn.storageUri gs://bucket/iris /spec/predictor/sklearn/storageUri#-1",
		"spec.predictor.containers[kserve-container].image registry.test/system/server:1 /spec/predictor/containers/0/image#-1",
		"spec.predictor.containers[kserve-container].env[STORAGE_URI] pvc://claim/model /spec/predictor/containers/0/env/1/value#-1",
		"spec.predictor.workerSpec.containers[worker].image registry.test/system/worker:1 /spec/predictor/workerSpec/containers/0/image#-1",
		"spec.transformer.containers[kserve-container].image registry.test/models/transformer:v2 /spec/transformer/containers/0/image#-1",
		"spec.explainer.art.storageUri https://example.test/explainer.tar.gz /spec/explainer/art/storageUri#-1",
	}
	if got := found(fs); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	for _, f := range fs {
		wantURI := strings.Contains(f.Source, "storageUri") || strings.Contains(f.Source, "STORAGE_URI")
		if f.URI != wantURI {
			t.Errorf("%s: URI = %v", f.Source, f.URI)
		}
	}
}

func TestExtractLLMInferenceService(t *testing.T) {
	fs, err := Extract(KindLLMInferenceService, readObject(t, "llminferenceservice.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"spec.model.uri oci://registry.test/models/llama@sha256:1111111111111111111111111111111111111111111111111111111111111111 /spec/model/uri#-1",
		"spec.template.containers[main].image registry.test/system/vllm:1 /spec/template/containers/0/image#-1",
		"spec.prefill.worker.containers[w].image registry.test/system/vllm:1 /spec/prefill/worker/containers/0/image#-1",
	}
	if got := found(fs); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestExtractModelcarPod(t *testing.T) {
	fs, err := Extract(Kind{"", "v1", "Pod"}, readObject(t, "modelcar-pod.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"metadata.annotations[internal.serving.kserve.io/storage-initializer-sourceuri] oci://registry.test/models/bert:v1 /metadata/annotations/internal.serving.kserve.io~1storage-initializer-sourceuri#-1",
		"spec.initContainers[modelcar-init].image registry.test/models/bert:v1 /spec/initContainers/0/image#-1",
		"spec.containers[kserve-container].image registry.test/system/server:1 /spec/containers/0/image#-1",
		"spec.containers[modelcar].image registry.test/models/bert:v1 /spec/containers/1/image#-1",
	}
	if got := found(fs); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestExtractKServeRefusals(t *testing.T) {
	for name, obj := range map[string]string{
		"a component that is not an object":   `{"spec":{"predictor":[]}}`,
		"a storageUri that is not a string":   `{"spec":{"predictor":{"model":{"storageUri":7}}}}`,
		"a storageUris entry of neither form": `{"spec":{"predictor":{"model":{"storageUris":[7]}}}}`,
		"too many storageUris":                `{"spec":{"predictor":{"model":{"storageUris":[` + strings.Repeat(`"s3://b/k",`, maxStorageURIs) + `"s3://b/k"]}}}}`,
	} {
		if _, err := Extract(KindInferenceService, []byte(obj)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
