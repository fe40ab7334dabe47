package oci_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
)

// webhookProcess is the webhook served in the test process, as the
// `modelverify webhook` command serves it.
type webhookProcess struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startWebhook(t *testing.T, policyFile, certFile, keyFile string) *webhookProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhookProcess{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	reg := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}})
	metrics := admission.NewMetrics()
	started := make(chan struct{})
	go func() {
		w.done <- admission.Serve(ctx, ln, admission.ServerOptions{
			PolicyFile: policyFile,
			Compile: func(doc *admission.PolicyDocument) (*admission.Policy, error) {
				return reg.Compile(doc, admission.Options{Metrics: metrics})
			},
			CertFile: certFile, KeyFile: keyFile,
			WatchInterval: 50 * time.Millisecond,
			Metrics:       metrics,
			Started:       func(*admission.Handler) { close(started) },
		})
	}()
	select {
	case <-started:
	case err := <-w.done:
		t.Fatalf("webhook: %v", err)
	}
	t.Cleanup(w.stop)
	return w
}

func (w *webhookProcess) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}

// webhookConfigs reads deploy/kubernetes/webhooks.yaml, the configurations
// a real install uses, and points them at url with caBundle instead of the
// in-cluster Service.
func webhookConfigs(t *testing.T, url string, caBundle []byte) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	b, err := os.ReadFile("../../../deploy/kubernetes/webhooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var (
		m *admissionregistrationv1.MutatingWebhookConfiguration
		v *admissionregistrationv1.ValidatingWebhookConfiguration
	)
	for _, doc := range strings.Split(string(b), "\n---\n") {
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch o := obj.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			m = o
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			v = o
		}
	}
	if m == nil || v == nil {
		t.Fatal("webhooks.yaml lacks a configuration")
	}
	point := func(meta *metav1.ObjectMeta, cc *admissionregistrationv1.WebhookClientConfig) {
		delete(meta.Annotations, "cert-manager.io/inject-ca-from")
		path := *cc.Service.Path
		u := url + path
		cc.Service, cc.URL, cc.CABundle = nil, &u, caBundle
	}
	for i := range m.Webhooks {
		point(&m.ObjectMeta, &m.Webhooks[i].ClientConfig)
	}
	for i := range v.Webhooks {
		point(&v.ObjectMeta, &v.Webhooks[i].ClientConfig)
	}
	return m, v
}

// warnings collects the warnings the API server returns.
type warnings struct {
	mu  sync.Mutex
	all []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.all
	w.all = nil
	return out
}

func pod(name string, images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for i, im := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c" + string(rune('a'+i)), Image: im})
	}
	return p
}

func deployment(name string, spec corev1.PodSpec) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// retry runs f until it returns nil or the deadline passes: webhook
// configuration and policy changes take a moment to reach the API server.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestEndToEndWithKubeAPIServer(t *testing.T) {
	cfg := kube.StartAPIServer(t)
	host := registry.StartDistribution(t)
	ctx := context.Background()
	dir := t.TempDir()

	// Real models in a real registry, signed and scanned for real.
	release := kube.NewSigner(t, dir, "release")
	files := func(name string, payload []byte) map[string][]byte {
		return map[string][]byte{"model.pkl": payload, "config.json": []byte(`{"name":"` + name + `"}`)}
	}
	good := kube.Publish(t, host, "models/good", "v1", kube.Model{Files: files("good", kube.BenignPickle), SignedBy: release, ScanBy: release})
	weights := kube.Publish(t, host, "models/weights", "v1", kube.Model{Files: files("weights", kube.BenignPickle), SignedBy: release, ScanBy: release})
	unsigned := kube.Publish(t, host, "models/unsigned", "v1", kube.Model{Files: files("unsigned", kube.BenignPickle)})
	unscanned := kube.Publish(t, host, "models/unscanned", "v1", kube.Model{Files: files("unscanned", kube.BenignPickle), SignedBy: release})
	dangerous := kube.Publish(t, host, "models/dangerous", "v1", kube.Model{Files: files("dangerous", kube.DangerousPickle), SignedBy: release, ScanBy: release})
	goodRef := host + "/models/good@" + good

	policyFile := writePolicy(t, dir, kube.PolicyYAML(host, "enforce", release.PubPath))
	ca := kube.NewCA(t)
	certFile, keyFile := ca.ServingFiles(t, dir, "modelverify-webhook")
	wh := startWebhook(t, policyFile, certFile, keyFile)

	warn := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warn
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ml"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mutating, validating := webhookConfigs(t, "https://"+wh.addr, ca.PEM)
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, validating, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("ml")
	deployments := cs.AppsV1().Deployments("ml")

	// Wait until the API server calls the webhook: an unsigned model is
	// refused with the webhook's message.
	retry(t, "validating webhook active", func() error {
		_, err := pods.Create(ctx, pod("probe", host+"/models/unsigned@"+unsigned), metav1.CreateOptions{})
		if err == nil {
			pods.Delete(ctx, "probe", metav1.DeleteOptions{})
			return errors.New("an unsigned model was admitted")
		}
		if !strings.Contains(err.Error(), "no signature") {
			return err
		}
		return nil
	})

	t.Run("a Pod and a Deployment with a signed, scanned model are created", func(t *testing.T) {
		p := pod("good", goodRef)
		p.Spec.Volumes = []corev1.Volume{{Name: "weights", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: host + "/models/weights@" + weights}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "weights", MountPath: "/models"}}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := deployments.Create(ctx, deployment("good", p.Spec), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	refused := []struct {
		name string
		obj  func() error
		want []string
	}{
		{"an unsigned model", func() error {
			_, err := pods.Create(ctx, pod("unsigned", host+"/models/unsigned@"+unsigned), metav1.CreateOptions{})
			return err
		}, []string{`admission webhook "validate.modelverify.dev" denied the request`, "spec.containers[ca].image", "no signature"}},
		{"an unscanned model", func() error {
			_, err := pods.Create(ctx, pod("unscanned", goodRef, host+"/models/unscanned@"+unscanned), metav1.CreateOptions{})
			return err
		}, []string{"1 model not admitted", "spec.containers[cb].image", "scan required"}},
		{"a dangerous model", func() error {
			_, err := pods.Create(ctx, pod("dangerous", host+"/models/dangerous@"+dangerous), metav1.CreateOptions{})
			return err
		}, []string{"critical findings"}},
		{"an unpinned model", func() error {
			_, err := pods.Create(ctx, pod("unpinned", host+"/models/good:v1"), metav1.CreateOptions{})
			return err
		}, []string{"not pinned to a digest"}},
		{"a model named in the annotation", func() error {
			p := pod("annotated", goodRef)
			p.Annotations = map[string]string{admission.ModelsAnnotation: host + "/models/unsigned@" + unsigned}
			_, err := pods.Create(ctx, p, metav1.CreateOptions{})
			return err
		}, []string{"metadata.annotations[modelverify.dev/models][0]", "no signature"}},
		{"a Deployment with an image volume holding a dangerous model", func() error {
			spec := pod("x", goodRef).Spec
			spec.Volumes = []corev1.Volume{{Name: "w", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: host + "/models/dangerous@" + dangerous}}}}
			_, err := deployments.Create(ctx, deployment("bad", spec), metav1.CreateOptions{})
			return err
		}, []string{"spec.template.spec.volumes[w].image.reference", "critical findings"}},
		{"every failing model at once", func() error {
			_, err := pods.Create(ctx, pod("all", host+"/models/unsigned@"+unsigned, host+"/models/dangerous@"+dangerous, host+"/models/unscanned@"+unscanned), metav1.CreateOptions{})
			return err
		}, []string{"3 models not admitted", "containers[ca]", "containers[cb]", "containers[cc]"}},
	}
	for _, tt := range refused {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			err := tt.obj()
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

	t.Run("the mutating webhook pins tags to the digest that is then verified", func(t *testing.T) {
		if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var created *corev1.Pod
		retry(t, "create a Pod by tag", func() error {
			var err error
			created, err = pods.Create(ctx, pod("bytag", host+"/models/good:v1"), metav1.CreateOptions{})
			return err
		})
		if got, want := created.Spec.Containers[0].Image, host+"/models/good:v1@"+good; got != want {
			t.Errorf("stored image %q, want %q", got, want)
		}
		// A tag of an unsigned model is pinned, then refused.
		_, err := pods.Create(ctx, pod("unsignedtag", host+"/models/unsigned:v1"), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "no signature") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("warn mode lets them through with warnings", func(t *testing.T) {
		if err := os.WriteFile(policyFile, []byte(kube.PolicyYAML(host, "warn", release.PubPath)), 0o600); err != nil {
			t.Fatal(err)
		}
		retry(t, "policy reloaded in warn mode", func() error {
			warn.take()
			_, err := pods.Create(ctx, pod("warned", host+"/models/unsigned@"+unsigned, host+"/models/dangerous@"+dangerous), metav1.CreateOptions{})
			return err
		})
		ws := strings.Join(warn.take(), "\n")
		for _, want := range []string{"warn mode", "no signature", "critical findings"} {
			if !strings.Contains(ws, want) {
				t.Errorf("warnings %q lack %q", ws, want)
			}
		}
	})

	t.Run("a stopped webhook blocks creation", func(t *testing.T) {
		wh.stop()
		_, err := pods.Create(ctx, pod("nowebhook", goodRef), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("got %v", err)
		}
		// kube-system is spared, so the cluster can still be repaired.
		if _, err := cs.CoreV1().Pods("kube-system").Create(ctx, pod("repair", host+"/models/unsigned@"+unsigned), metav1.CreateOptions{}); err != nil {
			t.Fatalf("kube-system: %v", err)
		}
	})
}
