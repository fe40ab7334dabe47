package admission

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KServe kinds whose storage URIs are extracted.
var (
	KindInferenceService    = Kind{"serving.kserve.io", "v1beta1", "InferenceService"}
	KindLLMInferenceService = Kind{"serving.kserve.io", "v1alpha1", "LLMInferenceService"}
)

// KServeSourceURIAnnotation is set by KServe on the pods it creates with
// the storage URI their storage initializer downloads.
const KServeSourceURIAnnotation = "internal.serving.kserve.io/storage-initializer-sourceuri"

// kserveStorageEnv is the container variable that makes KServe download a
// model for a custom container.
const kserveStorageEnv = "STORAGE_URI"

// maxStorageURIs bounds the storageUris entries read from one component.
const maxStorageURIs = 256

// inferenceServiceModelFields are the predictor and explainer fields that
// carry a storageUri: the generic model spec and each framework's spec.
var inferenceServiceModelFields = []string{
	"model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
	"huggingface", "pmml", "lightgbm", "paddle", "art", "alibi",
}

// storageFields is what a framework spec holds besides the container.
type storageFields struct {
	StorageURI  *string           `json:"storageUri"`
	StorageURIs []json.RawMessage `json:"storageUris"`
}

func extractInferenceService(raw []byte) ([]Found, error) {
	var o struct {
		Metadata metav1.ObjectMeta          `json:"metadata"`
		Spec     map[string]json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode InferenceService: %w", err)
	}
	out, err := fromAnnotation(nil, o.Metadata.Annotations, "/metadata", "metadata")
	if err != nil {
		return nil, err
	}
	for _, comp := range []string{"predictor", "transformer", "explainer"} {
		rawComp, ok := o.Spec[comp]
		if !ok || string(rawComp) == "null" {
			continue
		}
		ptr, field := "/spec/"+comp, "spec."+comp
		var c map[string]json.RawMessage
		if err := json.Unmarshal(rawComp, &c); err != nil {
			return nil, fmt.Errorf("decode %s: %w", field, err)
		}
		for _, name := range inferenceServiceModelFields {
			fr, ok := c[name]
			if !ok {
				continue
			}
			if out, err = fromStorageFields(out, fr, ptr+"/"+name, field+"."+name); err != nil {
				return nil, err
			}
		}
		// A component is also a pod spec (containers, volumes inline),
		// and a predictor may run workers with their own.
		if out, err = fromPodSpecJSON(out, rawComp, ptr, field); err != nil {
			return nil, err
		}
		if w, ok := c["workerSpec"]; ok {
			if out, err = fromPodSpecJSON(out, w, ptr+"/workerSpec", field+".workerSpec"); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func fromStorageFields(out []Found, raw json.RawMessage, ptr, field string) ([]Found, error) {
	var s storageFields
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	if s.StorageURI != nil && *s.StorageURI != "" {
		out = append(out, Found{Model: Model{Ref: *s.StorageURI, Source: field + ".storageUri", URI: true}, Pointer: ptr + "/storageUri", Index: -1})
	}
	if len(s.StorageURIs) > maxStorageURIs {
		return nil, fmt.Errorf("%s.storageUris has %d entries, more than %d", field, len(s.StorageURIs), maxStorageURIs)
	}
	for i, e := range s.StorageURIs {
		// An entry is an object with a uri (and a mountPath), or a
		// plain string.
		var uri string
		p := ptr + "/storageUris/" + strconv.Itoa(i)
		if err := json.Unmarshal(e, &uri); err != nil {
			var obj struct {
				URI string `json:"uri"`
			}
			if err := json.Unmarshal(e, &obj); err != nil {
				return nil, fmt.Errorf("decode %s.storageUris[%d]: %w", field, i, err)
			}
			uri, p = obj.URI, p+"/uri"
		}
		if uri != "" {
			out = append(out, Found{Model: Model{Ref: uri, Source: field + ".storageUris[" + strconv.Itoa(i) + "]", URI: true}, Pointer: p, Index: -1})
		}
	}
	return out, nil
}

// fromPodSpecJSON reads the pod spec fields of raw (which may hold other
// fields too) and the storage URIs that KServe passes to containers.
func fromPodSpecJSON(out []Found, raw []byte, ptr, field string) ([]Found, error) {
	var s corev1.PodSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	out = fromPodSpec(out, &s, ptr, field)
	return fromStorageEnv(out, &s, ptr, field), nil
}

// fromStorageEnv reads the STORAGE_URI variable of containers: KServe
// downloads that model for a custom container.
func fromStorageEnv(out []Found, s *corev1.PodSpec, ptr, field string) []Found {
	for i, c := range s.Containers {
		for j, e := range c.Env {
			if e.Name == kserveStorageEnv && e.Value != "" {
				out = append(out, Found{
					Model:   Model{Ref: e.Value, Source: fmt.Sprintf("%s.containers[%s].env[%s]", field, c.Name, kserveStorageEnv), URI: true},
					Pointer: fmt.Sprintf("%s/containers/%d/env/%d/value", ptr, i, j),
					Index:   -1,
				})
			}
		}
	}
	return out
}

func extractLLMInferenceService(raw []byte) ([]Found, error) {
	var o struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Model *struct {
				URI string `json:"uri"`
			} `json:"model"`
			Template json.RawMessage `json:"template"`
			Worker   json.RawMessage `json:"worker"`
			Prefill  *struct {
				Template json.RawMessage `json:"template"`
				Worker   json.RawMessage `json:"worker"`
			} `json:"prefill"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode LLMInferenceService: %w", err)
	}
	out, err := fromAnnotation(nil, o.Metadata.Annotations, "/metadata", "metadata")
	if err != nil {
		return nil, err
	}
	if m := o.Spec.Model; m != nil && m.URI != "" {
		out = append(out, Found{Model: Model{Ref: m.URI, Source: "spec.model.uri", URI: true}, Pointer: "/spec/model/uri", Index: -1})
	}
	specs := []struct {
		raw        json.RawMessage
		ptr, field string
	}{
		{o.Spec.Template, "/spec/template", "spec.template"},
		{o.Spec.Worker, "/spec/worker", "spec.worker"},
	}
	if p := o.Spec.Prefill; p != nil {
		specs = append(specs, struct {
			raw        json.RawMessage
			ptr, field string
		}{p.Template, "/spec/prefill/template", "spec.prefill.template"}, struct {
			raw        json.RawMessage
			ptr, field string
		}{p.Worker, "/spec/prefill/worker", "spec.prefill.worker"})
	}
	for _, s := range specs {
		if len(s.raw) == 0 || string(s.raw) == "null" {
			continue
		}
		if out, err = fromPodSpecJSON(out, s.raw, s.ptr, s.field); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromSourceURIAnnotation reads the storage URI that KServe records on the
// pods it creates.
func fromSourceURIAnnotation(out []Found, ann map[string]string, ptr, field string) []Found {
	v := strings.TrimSpace(ann[KServeSourceURIAnnotation])
	if v == "" {
		return out
	}
	return append(out, Found{
		Model:   Model{Ref: v, Source: field + ".annotations[" + KServeSourceURIAnnotation + "]", URI: true},
		Pointer: ptr + "/annotations/" + escapePointer(KServeSourceURIAnnotation),
		Index:   -1,
	})
}
