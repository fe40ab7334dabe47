package hfcode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/coderef"
	"github.com/modelverify/modelverify/pkg/scan/keras"
	"github.com/modelverify/modelverify/pkg/scan/serving"
)

// Config is a JSON object: Hugging Face, diffusers and Keras configs, and
// other JSON metadata. It reports the code the object references, then
// scans the object as package keras's JSON format does.
type Config struct{}

var _ scan.Format = Config{}

// Name implements scan.Format.
func (Config) Name() string { return keras.JSON{}.Name() }

// Match implements scan.Format: the same JSON objects keras.JSON matches.
func (Config) Match(head []byte, size int64) bool { return keras.JSON{}.Match(head, size) }

// Scan implements scan.Format.
func (Config) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	b, err := readAll(s, r, size)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(b, &doc) == nil {
		refs := configRefs(doc)
		report(s, refs)
		for _, f := range serving.ManifestRefs(doc) {
			s.Report(f)
		}
	}
	// keras.JSON reports malformed JSON and everything else it knows.
	return keras.JSON{}.Scan(ctx, s, bytes.NewReader(b), int64(len(b)))
}

// Modules is a sentence-transformers modules.json: a JSON array of objects
// with "type" and "path".
type Modules struct{}

var _ scan.Format = Modules{}

// Name implements scan.Format.
func (Modules) Name() string { return "sentence-transformers-modules" }

// Match implements scan.Format: "[" then "{" and a "type" key in the head.
func (Modules) Match(head []byte, size int64) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) < 2 || b[0] != '[' {
		return false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	return len(b) > 0 && b[0] == '{' && bytes.Contains(head, []byte(`"type"`))
}

// Scan implements scan.Format.
func (Modules) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	b, err := readAll(s, r, size)
	if err != nil {
		return err
	}
	var mods []struct {
		Name string `json:"name"`
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &mods); err != nil {
		return scan.Malformedf("modules.json: %v", err)
	}
	var refs []ref
	for i, m := range mods {
		if m.Type == "" {
			return scan.Malformedf("modules.json: entry %d has no type", i)
		}
		if strings.HasPrefix(m.Type, "sentence_transformers.") {
			continue
		}
		// sentence-transformers imports "module.Class" from the module's
		// folder first, then from the folder root, then as an installed package.
		mod, _ := coderef.SplitClass(m.Type)
		refs = append(refs, coderef.Module(fmt.Sprintf("modules.json[%d].type", i), m.Type, mod, m.Path))
	}
	report(s, refs)
	return nil
}

func readAll(s *scan.Session, r io.ReaderAt, size int64) ([]byte, error) {
	if max := s.Limits().MaxHeaderBytes; size > max {
		return nil, &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b, nil
}

// knownLibraries are the packages whose classes diffusers loads from
// installed code; any other library name in model_index.json is a module
// of the folder.
var knownLibraries = map[string]bool{
	"diffusers": true, "transformers": true, "onnxruntime": true, "onnxruntime.training": true,
	"flax": true, "optimum": true, "peft": true, "torch": true,
}

// ref is one reference from a config to code.
type ref = coderef.Ref

func configRefs(doc map[string]json.RawMessage) []ref {
	var refs []ref
	if raw, ok := doc["auto_map"]; ok {
		var am map[string]json.RawMessage
		if json.Unmarshal(raw, &am) == nil {
			for _, k := range sortedKeys(am) {
				// A value is "module.Class", or for tokenizers a list of the
				// slow and fast classes, either of which may be null.
				var one string
				var many []*string
				switch {
				case json.Unmarshal(am[k], &one) == nil:
					refs = append(refs, classRef("auto_map."+k, one, ""))
				case json.Unmarshal(am[k], &many) == nil:
					for i, c := range many {
						if c != nil {
							refs = append(refs, classRef(fmt.Sprintf("auto_map.%s[%d]", k, i), *c, ""))
						}
					}
				}
			}
		}
	}
	if raw, ok := doc["custom_pipelines"]; ok {
		var cp map[string]struct {
			Impl string `json:"impl"`
		}
		if json.Unmarshal(raw, &cp) == nil {
			for _, task := range sortedKeys(cp) {
				if impl := cp[task].Impl; impl != "" {
					refs = append(refs, classRef("custom_pipelines."+task+".impl", impl, ""))
				}
			}
		}
	}
	if _, ok := doc["_diffusers_version"]; ok {
		var pair []*string
		if raw, ok := doc["_class_name"]; ok && json.Unmarshal(raw, &pair) == nil && len(pair) == 2 && pair[0] != nil {
			// A custom pipeline: [module of the folder, class].
			refs = append(refs, coderef.Module("_class_name", *pair[0]+"."+deref(pair[1]), *pair[0], ""))
		}
		for _, k := range sortedKeys(doc) {
			if strings.HasPrefix(k, "_") {
				continue
			}
			var comp []*string
			if json.Unmarshal(doc[k], &comp) != nil || len(comp) != 2 || comp[0] == nil {
				continue
			}
			lib := *comp[0]
			if knownLibraries[lib] || knownLibraries[strings.SplitN(lib, ".", 2)[0]] {
				continue
			}
			refs = append(refs, coderef.Module(k, lib+"."+deref(comp[1]), lib, k))
		}
	}
	return refs
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// classRef reads a transformers class reference, "module.Class" or
// "org/repo--module.Class" (the code comes from another repository).
func classRef(key, target, sub string) ref {
	remote := ""
	spec := target
	if i := strings.Index(target, "--"); i >= 0 {
		remote, spec = target[:i], target[i+2:]
	}
	mod, _ := coderef.SplitClass(spec)
	r := coderef.Module(key, target, mod, sub)
	r.Remote = remote
	return r
}

// linker reports the references: transformers, diffusers and
// sentence-transformers import the code when the model is loaded with
// remote code enabled, and fetch it from the hub when it is not in the
// folder.
var linker = coderef.Linker{Runs: "when the model is loaded with remote code enabled"}

func report(s *scan.Session, refs []ref) {
	if len(refs) > 0 {
		linker.Report(s, "", s.Dir(), refs)
	}
}
