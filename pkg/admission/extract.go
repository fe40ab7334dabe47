package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ModelsAnnotation lists models that an object loads some other way (from
// an init step, a sidecar, a volume): comma-separated references.
const ModelsAnnotation = "modelverify.dev/models"

// ErrUnsupportedKind is returned for an object kind that carries no pod
// spec this package knows.
var ErrUnsupportedKind = errors.New("unsupported kind")

// maxAnnotationModels bounds the references read from one annotation.
const maxAnnotationModels = 256

// Found is a reference found in an object.
type Found struct {
	Model
	// Pointer is the JSON pointer of the field that holds the reference.
	Pointer string
	// Index is the position in a comma-separated annotation, -1 for a
	// field that holds one reference.
	Index int
}

// Kind identifies an object type as in an AdmissionRequest.
type Kind struct{ Group, Version, Kind string }

// Extract returns every model reference in an object of the given kind:
// containers, init and ephemeral containers, image volumes, pod templates
// and the ModelsAnnotation on the object and on its pod template; the
// storage URIs of KServe InferenceServices (every component's storageUri,
// storageUris, STORAGE_URI variables and containers) and
// LLMInferenceServices (spec.model.uri and the pod templates), and the
// source URI KServe records on the pods it creates.
func Extract(kind Kind, raw []byte) ([]Found, error) {
	var (
		meta     metav1.ObjectMeta
		template *corev1.PodTemplateSpec
		spec     *corev1.PodSpec
		base     string // JSON pointer of the pod template
	)
	decode := func(v any) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decode %s: %w", kind.Kind, err)
		}
		return nil
	}
	switch kind {
	case Kind{"", "v1", "Pod"}:
		var o corev1.Pod
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, spec = o.ObjectMeta, &o.Spec
	case Kind{"apps", "v1", "Deployment"}:
		var o appsv1.Deployment
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.Template, "/spec/template"
	case Kind{"apps", "v1", "StatefulSet"}:
		var o appsv1.StatefulSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.Template, "/spec/template"
	case Kind{"apps", "v1", "DaemonSet"}:
		var o appsv1.DaemonSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.Template, "/spec/template"
	case Kind{"apps", "v1", "ReplicaSet"}:
		var o appsv1.ReplicaSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.Template, "/spec/template"
	case Kind{"batch", "v1", "Job"}:
		var o batchv1.Job
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.Template, "/spec/template"
	case Kind{"batch", "v1", "CronJob"}:
		var o batchv1.CronJob
		if err := decode(&o); err != nil {
			return nil, err
		}
		meta, template, base = o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, "/spec/jobTemplate/spec/template"
	case KindInferenceService:
		return extractInferenceService(raw)
	case KindLLMInferenceService:
		return extractLLMInferenceService(raw)
	default:
		return nil, fmt.Errorf("%w: %s/%s %s", ErrUnsupportedKind, kind.Group, kind.Version, kind.Kind)
	}

	var out []Found
	var err error
	out, err = fromAnnotation(out, meta.Annotations, "/metadata", "metadata")
	if err != nil {
		return nil, err
	}
	out = fromSourceURIAnnotation(out, meta.Annotations, "/metadata", "metadata")
	specPtr, specField := "/spec", "spec"
	if template != nil {
		tptr, tfield := base+"/metadata", dotted(base)+".metadata"
		out, err = fromAnnotation(out, template.Annotations, tptr, tfield)
		if err != nil {
			return nil, err
		}
		out = fromSourceURIAnnotation(out, template.Annotations, tptr, tfield)
		spec, specPtr, specField = &template.Spec, base+"/spec", dotted(base)+".spec"
	}
	return fromPodSpec(out, spec, specPtr, specField), nil
}

func dotted(ptr string) string { return strings.ReplaceAll(strings.TrimPrefix(ptr, "/"), "/", ".") }

func fromPodSpec(out []Found, s *corev1.PodSpec, ptr, field string) []Found {
	add := func(ref, p, f string) {
		if ref != "" {
			out = append(out, Found{Model: Model{Ref: ref, Source: f}, Pointer: p, Index: -1})
		}
	}
	for i, c := range s.InitContainers {
		add(c.Image, fmt.Sprintf("%s/initContainers/%d/image", ptr, i), fmt.Sprintf("%s.initContainers[%s].image", field, c.Name))
	}
	for i, c := range s.Containers {
		add(c.Image, fmt.Sprintf("%s/containers/%d/image", ptr, i), fmt.Sprintf("%s.containers[%s].image", field, c.Name))
	}
	for i, c := range s.EphemeralContainers {
		add(c.Image, fmt.Sprintf("%s/ephemeralContainers/%d/image", ptr, i), fmt.Sprintf("%s.ephemeralContainers[%s].image", field, c.Name))
	}
	for i, v := range s.Volumes {
		if v.Image != nil {
			add(v.Image.Reference, fmt.Sprintf("%s/volumes/%d/image/reference", ptr, i), fmt.Sprintf("%s.volumes[%s].image.reference", field, v.Name))
		}
	}
	return out
}

func fromAnnotation(out []Found, ann map[string]string, ptr, field string) ([]Found, error) {
	v, ok := ann[ModelsAnnotation]
	if !ok {
		return out, nil
	}
	refs := splitModels(v)
	if len(refs) > maxAnnotationModels {
		return nil, fmt.Errorf("annotation %s lists %d models, more than %d", ModelsAnnotation, len(refs), maxAnnotationModels)
	}
	p := ptr + "/annotations/" + escapePointer(ModelsAnnotation)
	for i, r := range refs {
		out = append(out, Found{
			Model:   Model{Ref: r, Source: field + ".annotations[" + ModelsAnnotation + "][" + strconv.Itoa(i) + "]"},
			Pointer: p,
			Index:   i,
		})
	}
	return out, nil
}

// splitModels splits a comma-separated annotation, ignoring blanks.
func splitModels(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Models returns the Model of each Found.
func Models(found []Found) []Model {
	out := make([]Model, len(found))
	for i, f := range found {
		out[i] = f.Model
	}
	return out
}
