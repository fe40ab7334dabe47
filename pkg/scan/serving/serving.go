// Package serving reads the manifests of serving and packaging formats that
// name code to run when a model is served or loaded: MLflow's MLmodel (the
// python_function flavor's loader module, its cloudpickled python_model and
// its code folder) and TorchServe's MAR-INF/MANIFEST.json inside a .mar
// archive (the handler and model file). The files they name are scanned
// where they are found: the .mar's members by the zip container, an MLflow
// folder's python_model.pkl as a pickle and its code/*.py as Python.
//
// NeMo .nemo files are tar archives (model_config.yaml, the torch.save
// weights, artifacts) that the tar format opens; it hands their config to
// NemoConfig, whose "target" and hydra "_target_" keys name the classes and
// callables that restoring the model imports and calls. PaddlePaddle
// .pdparams/.pdopt files are pickles of numpy state dicts, judged by the
// pickle format with no manifest to read.
package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/modelverify/modelverify/pkg/scan"
)

// MLmodel is an MLflow model's MLmodel file: YAML with a top-level
// "flavors" mapping.
type MLmodel struct{}

var _ scan.Format = MLmodel{}

// Name implements scan.Format.
func (MLmodel) Name() string { return "mlflow-mlmodel" }

// Match implements scan.Format: text with a "flavors:" key at the start of
// a line and no NUL byte.
func (MLmodel) Match(head []byte, size int64) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	return bytes.HasPrefix(head, []byte("flavors:")) || bytes.Contains(head, []byte("\nflavors:"))
}

// mlflowLoaders are MLflow's own flavor modules, which import only MLflow
// and the named library.
func mlflowLoader(m string) bool { return m == "mlflow" || strings.HasPrefix(m, "mlflow.") }

// Scan implements scan.Format.
func (MLmodel) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	if max := s.Limits().MaxHeaderBytes; size > max {
		return &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		return fmt.Errorf("read: %w", err)
	}
	var doc struct {
		Flavors map[string]map[string]any `yaml:"flavors"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return scan.Malformedf("MLmodel: %v", err)
	}
	if doc.Flavors == nil {
		return scan.Malformedf("MLmodel: no flavors")
	}
	pf, ok := doc.Flavors["python_function"]
	if !ok {
		return nil
	}
	report := func(sym, msg string) {
		s.Report(scan.Finding{RuleID: scan.RuleRemoteCode, Severity: scan.SeverityHigh, Offset: -1, Symbol: sym, Message: msg})
	}
	str := func(k string) string {
		v, _ := pf[k].(string)
		return v
	}
	if m := str("loader_module"); m != "" && !mlflowLoader(m) {
		report(m, fmt.Sprintf("flavors.python_function.loader_module names %q: mlflow.pyfunc.load_model imports it", m))
	}
	if pm := str("python_model"); pm != "" {
		report(pm, fmt.Sprintf("flavors.python_function.python_model names %q: a cloudpickle of the model's Python class, unpickled by mlflow.pyfunc.load_model (the file is scanned as a pickle)", pm))
	}
	if code := str("code"); code != "" {
		report(code, fmt.Sprintf("flavors.python_function.code names %q: that folder is put on sys.path when the model loads, and its Python files are scanned as code", code))
	}
	return nil
}

// builtinHandlers are the handlers TorchServe ships; any other handler is a
// file of the archive.
var builtinHandlers = map[string]bool{"image_classifier": true, "image_segmenter": true, "object_detector": true,
	"text_classifier": true, "text_classification": true, "base_handler": true, "dali_image_classifier": true}

// ManifestRefs returns what a TorchServe manifest makes the server import,
// as findings, or nil when doc is not a manifest. The dispatcher's JSON
// format calls it for every JSON object.
func ManifestRefs(doc map[string]json.RawMessage) []scan.Finding {
	raw, ok := doc["model"]
	if !ok {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	if _, ok := m["handler"]; !ok {
		return nil
	}
	if _, ok := doc["runtime"]; !ok {
		if _, ok := doc["archiverVersion"]; !ok {
			return nil
		}
	}
	var out []scan.Finding
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := m[k].(string)
		switch {
		case v == "":
		case k == "handler":
			mod, _, _ := strings.Cut(v, ":")
			if builtinHandlers[mod] {
				continue
			}
			out = append(out, scan.Finding{RuleID: scan.RuleRemoteCode, Severity: scan.SeverityHigh, Offset: -1, Symbol: mod,
				Message: fmt.Sprintf("model.handler names %q: TorchServe imports it from the archive when it serves the model", v)})
		case k == "modelFile":
			out = append(out, scan.Finding{RuleID: scan.RuleRemoteCode, Severity: scan.SeverityHigh, Offset: -1, Symbol: v,
				Message: fmt.Sprintf("model.modelFile names %q: TorchServe imports it to build the model", v)})
		}
	}
	return out
}
