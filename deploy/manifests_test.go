// Package deploy holds the Kubernetes manifests of the admission webhook;
// its test checks that they decode strictly and keep the properties a highly
// available, fail-closed install depends on.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/modelverify/modelverify/pkg/admission"
)

// objects decodes every document of every manifest that kustomization.yaml
// lists. Kinds the client-go scheme does not know (cert-manager's) are
// returned as nil objects with their kind.
func objects(t *testing.T) map[string][]runtime.Object {
	t.Helper()
	var kust struct {
		Resources []string `json:"resources"`
	}
	b, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &kust); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml", base)
		}
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	out := map[string][]runtime.Object{}
	for _, name := range kust.Resources {
		b, err := os.ReadFile(filepath.Join("kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufioReader(b))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Kind == "" {
				continue // a comment-only document
			}
			if strings.HasPrefix(meta.APIVersion, "cert-manager.io/") {
				out[meta.Kind] = append(out[meta.Kind], nil)
				continue
			}
			obj, _, err := codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, meta.Kind, err)
			}
			out[meta.Kind] = append(out[meta.Kind], obj)
		}
	}
	return out
}

func TestManifestsForAHighlyAvailableFailClosedInstall(t *testing.T) {
	objs := objects(t)
	one := func(kind string) runtime.Object {
		t.Helper()
		if len(objs[kind]) != 1 {
			t.Fatalf("%d %s objects, want 1", len(objs[kind]), kind)
		}
		return objs[kind][0]
	}
	for _, kind := range []string{"Namespace", "ServiceAccount", "ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Certificate", "Issuer"} {
		if len(objs[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}

	dep := one("Deployment").(*appsv1.Deployment)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Error("the Deployment needs at least two replicas")
	}
	aa := dep.Spec.Template.Spec.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 ||
		aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != "kubernetes.io/hostname" {
		t.Error("replicas must be kept on different nodes")
	}
	labels := dep.Spec.Template.Labels
	if sel := aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchLabels; !subset(sel, labels) {
		t.Error("the anti-affinity selector does not select the webhook's pods")
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("probes must use /readyz and /healthz")
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the container must have a read-only root filesystem")
	}
	// The args must be accepted by the webhook command and point into the
	// mounted volumes.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, a := range c.Args {
		flag, path, ok := strings.Cut(a, "=")
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		if _, found := mounts[filepath.Dir(path)]; !found {
			t.Errorf("%s points outside every mounted volume", flag)
		}
	}

	pdb := one("PodDisruptionBudget").(*policyv1.PodDisruptionBudget)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || !subset(pdb.Spec.Selector.MatchLabels, labels) {
		t.Error("the PodDisruptionBudget must keep one webhook pod")
	}
	svc := one("Service").(*corev1.Service)
	if !subset(svc.Spec.Selector, labels) || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name {
		t.Error("the Service must route 443 to the webhook's https port")
	}
	sa := one("ServiceAccount").(*corev1.ServiceAccount)
	if dep.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Error("the Deployment does not use the ServiceAccount")
	}
	// It reads nothing through the API: no token, no Role.
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the ServiceAccount must not mount an API token")
	}
	if len(objs["Role"])+len(objs["RoleBinding"])+len(objs["ClusterRole"])+len(objs["ClusterRoleBinding"]) > 0 {
		t.Error("the webhook uses no API permission; grant none")
	}

	check := func(kind, path string, hooks []hook) {
		for _, h := range hooks {
			if h.failurePolicy == nil || *h.failurePolicy != admissionregistrationv1.Fail {
				t.Errorf("%s %s: failurePolicy must be Fail", kind, h.name)
			}
			if h.service == nil || h.service.Path == nil || *h.service.Path != path || h.service.Name != svc.Name || h.service.Namespace != svc.Namespace {
				t.Errorf("%s %s: must call %s on the Service", kind, h.name, path)
			}
			spared := map[string]bool{}
			for _, e := range h.namespaceSelector.MatchExpressions {
				if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" {
					for _, v := range e.Values {
						spared[v] = true
					}
				}
			}
			if !spared["kube-system"] || !spared[dep.Namespace] {
				t.Errorf("%s %s: must spare kube-system and %s", kind, h.name, dep.Namespace)
			}
			var resources []string
			for _, r := range h.rules {
				resources = append(resources, r.Resources...)
			}
			for _, want := range []string{"pods", "pods/ephemeralcontainers", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "inferenceservices", "llminferenceservices"} {
				if !slices.Contains(resources, want) {
					t.Errorf("%s %s: does not cover %s", kind, h.name, want)
				}
			}
		}
	}
	check("ValidatingWebhookConfiguration", "/validate", validatingHooks(one("ValidatingWebhookConfiguration").(*admissionregistrationv1.ValidatingWebhookConfiguration)))
	check("MutatingWebhookConfiguration", "/mutate", mutatingHooks(one("MutatingWebhookConfiguration").(*admissionregistrationv1.MutatingWebhookConfiguration)))

	// The policy in the ConfigMap is valid (its placeholder key aside).
	cm := one("ConfigMap").(*corev1.ConfigMap)
	doc, err := admission.ParsePolicy(strings.NewReader(cm.Data["policy.yaml"]), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admission.Compile(doc, admission.Options{Resolver: nopResolver{}, Authorities: admission.AuthorityCompilerFunc(func(admission.AuthoritySpec) (admission.Authority, error) { return nil, nil })}); err != nil {
		t.Fatal(err)
	}
}

type hook struct {
	name              string
	failurePolicy     *admissionregistrationv1.FailurePolicyType
	service           *admissionregistrationv1.ServiceReference
	namespaceSelector *metav1.LabelSelector
	rules             []admissionregistrationv1.RuleWithOperations
}

func validatingHooks(c *admissionregistrationv1.ValidatingWebhookConfiguration) []hook {
	var out []hook
	for _, w := range c.Webhooks {
		out = append(out, hook{w.Name, w.FailurePolicy, w.ClientConfig.Service, w.NamespaceSelector, w.Rules})
	}
	return out
}

func mutatingHooks(c *admissionregistrationv1.MutatingWebhookConfiguration) []hook {
	var out []hook
	for _, w := range c.Webhooks {
		out = append(out, hook{w.Name, w.FailurePolicy, w.ClientConfig.Service, w.NamespaceSelector, w.Rules})
	}
	return out
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

type nopResolver struct{}

func (nopResolver) Resolve(context.Context, admission.Reference) (string, error) {
	return "", errors.New("not used")
}
