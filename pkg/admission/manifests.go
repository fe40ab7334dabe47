package admission

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// maxManifestSize bounds a manifest file given to ExtractManifests, and
// maxManifestObjects the objects in it.
const (
	maxManifestSize    = 8 << 20
	maxManifestObjects = 1024
)

// ErrManifest is returned for a manifest file that cannot be read.
var ErrManifest = errors.New("invalid manifest")

// ExtractManifests reads Kubernetes objects (YAML documents or JSON, a
// List's items included) and returns the model references of each, as
// the webhook would find them. Each Source starts with KIND/NAME. Objects
// of kinds that carry no models are skipped; skipped counts them.
func ExtractManifests(r io.Reader) (found []Found, skipped int, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if len(data) > maxManifestSize {
		return nil, 0, fmt.Errorf("%w: larger than %d bytes", ErrManifest, maxManifestSize)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(bytes.NewReader(data)), 4096)
	n := 0
	var add func(raw json.RawMessage, doc int) error
	add = func(raw json.RawMessage, doc int) error {
		if n++; n > maxManifestObjects {
			return fmt.Errorf("%w: more than %d objects", ErrManifest, maxManifestObjects)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name         string `json:"name"`
				GenerateName string `json:"generateName"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("%w: document %d: %v", ErrManifest, doc, err)
		}
		if head.Kind == "" || head.APIVersion == "" {
			return fmt.Errorf("%w: document %d has no apiVersion or kind", ErrManifest, doc)
		}
		if strings.HasSuffix(head.Kind, "List") && head.APIVersion == "v1" {
			for _, it := range head.Items {
				if err := add(it, doc); err != nil {
					return err
				}
			}
			return nil
		}
		group, version, ok := strings.Cut(head.APIVersion, "/")
		if !ok {
			group, version = "", head.APIVersion
		}
		fs, err := Extract(Kind{group, version, head.Kind}, raw)
		if errors.Is(err, ErrUnsupportedKind) {
			skipped++
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: document %d: %v", ErrManifest, doc, err)
		}
		name := head.Metadata.Name
		if name == "" {
			name = head.Metadata.GenerateName + "*"
		}
		for _, f := range fs {
			f.Source = head.Kind + "/" + name + " " + f.Source
			found = append(found, f)
		}
		return nil
	}
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, 0, fmt.Errorf("%w: document %d: %v", ErrManifest, doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		if err := add(raw, doc); err != nil {
			return nil, 0, err
		}
	}
	return found, skipped, nil
}
