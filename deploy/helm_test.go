package deploy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// HelmVersion is the helm that scripts/helm.sh builds.
const HelmVersion = "v3.22.0"

const chartDir = "helm/modelverify"

// helmBinary finds helm: $MODELVERIFY_HELM, the cache of scripts/helm.sh,
// or PATH. Without it the test is skipped, or fails when
// MODELVERIFY_INTEGRATION=require.
func helmBinary(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("MODELVERIFY_HELM")}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".cache", "modelverify", "helm-"+HelmVersion, "helm"))
	}
	if p, err := exec.LookPath("helm"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); c != "" && err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	msg := "helm not found: run scripts/helm.sh and set MODELVERIFY_HELM to the path it prints"
	if os.Getenv("MODELVERIFY_INTEGRATION") == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func helm(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// No user configuration, cache or repositories leak in.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if err != nil {
		return out.String(), errors.New(strings.TrimSpace(stderr.String() + "\n" + err.Error()))
	}
	return out.String(), nil
}

// render runs helm template and decodes every object strictly; kinds the
// client-go scheme does not know (cert-manager's, ServiceMonitor) are
// counted by kind as nil objects.
func render(t *testing.T, bin string, args ...string) map[string][]runtime.Object {
	t.Helper()
	text, err := helm(t, bin, append([]string{"template", "modelverify", chartDir, "--namespace", "modelverify"}, args...)...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	out := map[string][]runtime.Object{}
	r := utilyaml.NewYAMLReader(bufioReader([]byte(text)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Kind == "" {
			continue
		}
		if strings.HasPrefix(meta.APIVersion, "cert-manager.io/") || strings.HasPrefix(meta.APIVersion, "monitoring.coreos.com/") {
			out[meta.Kind] = append(out[meta.Kind], nil)
			continue
		}
		obj, _, err := codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("rendered %s: %v\n%s", meta.Kind, err, doc)
		}
		out[meta.Kind] = append(out[meta.Kind], obj)
	}
	return out
}

func one[T runtime.Object](t *testing.T, objs map[string][]runtime.Object, kind string) T {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("%d %s objects, want 1", len(objs[kind]), kind)
	}
	return objs[kind][0].(T)
}

func TestHelmChartLints(t *testing.T) {
	bin := helmBinary(t)
	if out, err := helm(t, bin, "lint", "--strict", chartDir); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

// With its defaults the chart renders the kustomize base: the same
// Deployment Pod spec, Service, PodDisruptionBudget, ServiceAccount, policy
// and webhook configurations, and the same cert-manager objects.
func TestHelmChartDefaultsMatchTheKustomizeBase(t *testing.T) {
	bin := helmBinary(t)
	got := render(t, bin)
	want := objects(t)
	for _, kind := range []string{"Issuer", "Certificate"} {
		if len(got[kind]) != len(want[kind]) {
			t.Errorf("%d %s objects, the kustomize base has %d", len(got[kind]), kind, len(want[kind]))
		}
	}
	for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		if len(got[kind]) > 0 {
			t.Errorf("the chart grants permissions (%s): the webhook reads nothing through the API", kind)
		}
	}

	gd, wd := one[*appsv1.Deployment](t, got, "Deployment"), one[*appsv1.Deployment](t, want, "Deployment")
	gs, ws := gd.Spec.Template.Spec.DeepCopy(), wd.Spec.Template.Spec.DeepCopy()
	// The chart names its ConfigMap and Secret after the release; the
	// defaults give the kustomize names.
	if !equality.Semantic.DeepEqual(gs, ws) {
		t.Errorf("Deployment pod spec differs from the kustomize base:\nchart: %+v\nbase:  %+v", gs, ws)
	}
	if *gd.Spec.Replicas != *wd.Spec.Replicas || !equality.Semantic.DeepEqual(gd.Spec.Strategy, wd.Spec.Strategy) ||
		!equality.Semantic.DeepEqual(gd.Spec.Selector, wd.Spec.Selector) {
		t.Error("Deployment replicas, strategy or selector differ from the kustomize base")
	}
	c := gs.Containers[0].SecurityContext
	if ps := gs.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || c == nil || c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Error("the webhook does not run as non-root with a read-only root filesystem")
	}

	if g, w := one[*corev1.Service](t, got, "Service"), one[*corev1.Service](t, want, "Service"); g.Name != w.Name || !equality.Semantic.DeepEqual(g.Spec, w.Spec) {
		t.Errorf("Service differs: %+v vs %+v", g.Spec, w.Spec)
	}
	if g, w := one[*policyv1.PodDisruptionBudget](t, got, "PodDisruptionBudget"), one[*policyv1.PodDisruptionBudget](t, want, "PodDisruptionBudget"); !equality.Semantic.DeepEqual(g.Spec, w.Spec) {
		t.Errorf("PodDisruptionBudget differs: %+v vs %+v", g.Spec, w.Spec)
	}
	if g := one[*corev1.ServiceAccount](t, got, "ServiceAccount"); g.Name != "modelverify-webhook" || g.AutomountServiceAccountToken == nil || *g.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount %s mounts a token", g.Name)
	}
	if g, w := one[*corev1.ConfigMap](t, got, "ConfigMap"), one[*corev1.ConfigMap](t, want, "ConfigMap"); g.Name != w.Name || g.Data["policy.yaml"] != w.Data["policy.yaml"] {
		t.Errorf("policy ConfigMap %s differs from the kustomize base's %s", g.Name, w.Name)
	}

	gv := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, got, "ValidatingWebhookConfiguration")
	wv := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, want, "ValidatingWebhookConfiguration")
	if !equality.Semantic.DeepEqual(gv.Webhooks, wv.Webhooks) || gv.Annotations["cert-manager.io/inject-ca-from"] != wv.Annotations["cert-manager.io/inject-ca-from"] {
		t.Errorf("ValidatingWebhookConfiguration differs:\nchart: %+v\nbase:  %+v", gv.Webhooks, wv.Webhooks)
	}
	gm := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, got, "MutatingWebhookConfiguration")
	wm := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, want, "MutatingWebhookConfiguration")
	if !equality.Semantic.DeepEqual(gm.Webhooks, wm.Webhooks) {
		t.Errorf("MutatingWebhookConfiguration differs:\nchart: %+v\nbase:  %+v", gm.Webhooks, wm.Webhooks)
	}
}

func TestHelmChartWithAGivenCertificateSecret(t *testing.T) {
	bin := helmBinary(t)
	ca := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	got := render(t, bin, "--set", "certificates.mode=secret", "--set", "certificates.secretName=webhook-tls",
		"--set", "certificates.caBundle="+ca, "--set", "failurePolicy=Ignore", "--set", "mutating.enabled=false",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "replicas=3")
	if len(got["Certificate"])+len(got["Issuer"]) != 0 {
		t.Error("cert-manager objects rendered with a given Secret")
	}
	if len(got["MutatingWebhookConfiguration"]) != 0 {
		t.Error("the mutating webhook was rendered though disabled")
	}
	if len(got["ServiceMonitor"]) != 1 {
		t.Error("no ServiceMonitor")
	}
	v := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, got, "ValidatingWebhookConfiguration")
	if _, ok := v.Annotations["cert-manager.io/inject-ca-from"]; ok {
		t.Error("cainjector annotation without cert-manager")
	}
	h := v.Webhooks[0]
	if string(h.ClientConfig.CABundle) != "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" || *h.FailurePolicy != admissionregistrationv1.Ignore {
		t.Errorf("caBundle %q, failurePolicy %s", h.ClientConfig.CABundle, *h.FailurePolicy)
	}
	d := one[*appsv1.Deployment](t, got, "Deployment")
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Volumes[1].Secret.SecretName != "webhook-tls" {
		t.Errorf("replicas %d, TLS secret %s", *d.Spec.Replicas, d.Spec.Template.Spec.Volumes[1].Secret.SecretName)
	}
}

func TestHelmChartRefusesIncompleteValues(t *testing.T) {
	bin := helmBinary(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a given Secret without its CA bundle", []string{"--set", "certificates.mode=secret", "--set", "certificates.secretName=x"}, "certificates.caBundle"},
		{"an unknown certificate mode", []string{"--set", "certificates.mode=manual"}, "certManager or secret"},
		{"an image without digest or tag", []string{"--set", "image.digest="}, "image.digest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := helm(t, bin, append([]string{"template", "modelverify", chartDir}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// The values for KMS keys in the policy reach the objects: workload-identity
// annotations on the ServiceAccount, labels on the Pods, the environment of
// the webhook container; and a verification limit other than the default
// becomes the webhook's flag.
func TestHelmChartKeyServiceValues(t *testing.T) {
	bin := helmBinary(t)
	got := render(t, bin,
		"--set", `keyService.serviceAccountAnnotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::111122223333:role/modelverify`,
		"--set", `keyService.podLabels.azure\.workload\.identity/use=true`,
		"--set", "keyService.env[0].name=AWS_REGION", "--set", "keyService.env[0].value=eu-west-2",
		"--set", "maxVerifications=32")
	sa := one[*corev1.ServiceAccount](t, got, "ServiceAccount")
	if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/modelverify" {
		t.Errorf("ServiceAccount annotations %v", sa.Annotations)
	}
	d := one[*appsv1.Deployment](t, got, "Deployment")
	if d.Spec.Template.Labels["azure.workload.identity/use"] != "true" {
		t.Errorf("Pod labels %v", d.Spec.Template.Labels)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Env) != 1 || c.Env[0].Name != "AWS_REGION" || c.Env[0].Value != "eu-west-2" {
		t.Errorf("env %v", c.Env)
	}
	if !slices.Contains(c.Args, "--max-verifications=32") {
		t.Errorf("args %v", c.Args)
	}
	// The defaults add none of these.
	plain := one[*appsv1.Deployment](t, render(t, bin), "Deployment").Spec.Template.Spec.Containers[0]
	if len(plain.Env) != 0 || slices.ContainsFunc(plain.Args, func(a string) bool { return strings.HasPrefix(a, "--max-verifications") }) {
		t.Errorf("defaults: env %v, args %v", plain.Env, plain.Args)
	}
}
