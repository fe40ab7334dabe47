package manifest

import (
	"encoding/json"
	"fmt"
	"github.com/opencontainers/go-digest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ModelConfig is the ModelPack model config blob
// (application/vnd.cncf.model.config.v1+json). Only the fields modelverify
// fills or shows are modelled; unknown fields of configs written by other
// tools are ignored when reading.
type ModelConfig struct {
	Descriptor ModelDescriptor `json:"descriptor"`
	Config     ModelProperties `json:"config"`
	ModelFS    ModelFS         `json:"modelfs"`
}

// ModelDescriptor is the general information about a model.
type ModelDescriptor struct {
	CreatedAt   string   `json:"createdAt,omitempty"`
	Authors     []string `json:"authors,omitempty"`
	Vendor      string   `json:"vendor,omitempty"`
	Family      string   `json:"family,omitempty"`
	Name        string   `json:"name,omitempty"`
	Version     string   `json:"version,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Revision    string   `json:"revision,omitempty"`
	Licenses    []string `json:"licenses,omitempty"`
}

// ModelProperties are the technical properties of a model.
type ModelProperties struct {
	Architecture string `json:"architecture,omitempty"`
	Format       string `json:"format,omitempty"`
	ParamSize    string `json:"paramSize,omitempty"`
	Precision    string `json:"precision,omitempty"`
	Quantization string `json:"quantization,omitempty"`
}

// ModelFS lists the layers' content digests (the files' sha256, since layers
// are raw), in layer order.
type ModelFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// maxHFConfigBytes bounds the config.json read to guess the architecture.
const maxHFConfigBytes = 1 << 20

// buildConfig fills a config from the files of a model directory. It is
// deterministic (no creation time), so pushing the same files twice gives the
// same manifest digest. layers must be in manifest order.
func buildConfig(dir string, layers []Resource, diffIDs []digest.Digest) ModelConfig {
	c := ModelConfig{ModelFS: ModelFS{Type: "layers", DiffIDs: make([]string, 0, len(layers))}}
	for _, d := range diffIDs {
		c.ModelFS.DiffIDs = append(c.ModelFS.DiffIDs, d.String())
	}
	c.Config.Format = guessFormat(layers)
	c.Config.Architecture, c.Config.Precision = readHFConfig(filepath.Join(dir, "config.json"))
	return c
}

// guessFormat names the weight format that holds the most bytes.
func guessFormat(layers []Resource) string {
	bytes := map[string]int64{}
	for _, l := range layers {
		if KindOf(l.Path) != KindWeight {
			continue
		}
		if f, ok := weightFormats[strings.ToLower(path.Ext(l.Path))]; ok {
			bytes[f] += l.Size + 1
		}
	}
	best, bestN := "", int64(-1)
	keys := make([]string, 0, len(bytes))
	for k := range bytes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if bytes[k] > bestN {
			best, bestN = k, bytes[k]
		}
	}
	return best
}

// readHFConfig reads the architecture and dtype from a Hugging Face
// config.json, if there is a small, well-formed one.
func readHFConfig(name string) (arch, precision string) {
	fi, err := os.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxHFConfigBytes {
		return "", ""
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", ""
	}
	var hf struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
		TorchDtype    string   `json:"torch_dtype"`
	}
	if json.Unmarshal(b, &hf) != nil {
		return "", ""
	}
	arch = hf.ModelType
	if len(hf.Architectures) > 0 {
		arch = hf.Architectures[0]
	}
	switch hf.TorchDtype {
	case "float16":
		precision = "fp16"
	case "bfloat16":
		precision = "bf16"
	case "float32":
		precision = "fp32"
	}
	return arch, precision
}

// parseConfig decodes a config blob and checks what modelverify relies on.
func parseConfig(b []byte) (ModelConfig, error) {
	var c ModelConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return ModelConfig{}, fmt.Errorf("%w: config: %v", ErrInvalidManifest, err)
	}
	return c, nil
}
