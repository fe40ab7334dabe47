package admission

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
	for _, name := range []string{"pod.json", "deployment.json", "cronjob.json"} {
		f.Add(uint8(0), readObject(f, name))
	}
	kinds := []Kind{{"", "v1", "Pod"}, {"apps", "v1", "Deployment"}, {"batch", "v1", "CronJob"}, {"apps", "v1", "StatefulSet"}}
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
