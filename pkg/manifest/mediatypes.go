package manifest

import (
	"fmt"
	"path"
	"strings"
)

// Media types and annotations of the CNCF ModelPack specification.
const (
	// ArtifactTypeModel is the artifactType of a model manifest.
	ArtifactTypeModel = "application/vnd.cncf.model.manifest.v1+json"
	// MediaTypeModelConfig is the media type of the model config blob.
	MediaTypeModelConfig = "application/vnd.cncf.model.config.v1+json"

	// Raw (uncompressed, untarred) layer media types, one per kind of file.
	MediaTypeWeight       = "application/vnd.cncf.model.weight.v1.raw"
	MediaTypeWeightConfig = "application/vnd.cncf.model.weight.config.v1.raw"
	MediaTypeDoc          = "application/vnd.cncf.model.doc.v1.raw"
	MediaTypeCode         = "application/vnd.cncf.model.code.v1.raw"
	MediaTypeDataset      = "application/vnd.cncf.model.dataset.v1.raw"

	// AnnotationFilepath holds a layer's path relative to the model root.
	AnnotationFilepath = "org.cncf.model.filepath"
	// AnnotationTitle is the OCI title annotation; oras pull uses it as the
	// file name, so it holds the same relative path.
	AnnotationTitle = "org.opencontainers.image.title"
)

// rawLayerTypes are the raw layer media types, whose blob is the file itself.
var rawLayerTypes = map[string]bool{
	MediaTypeWeight:       true,
	MediaTypeWeightConfig: true,
	MediaTypeDoc:          true,
	MediaTypeCode:         true,
	MediaTypeDataset:      true,
}

// IsRawLayerType reports whether mediaType is one of the raw ModelPack layer
// media types.
func IsRawLayerType(mediaType string) bool { return rawLayerTypes[mediaType] }

// LayerFormat is how a ModelPack layer holds its files: the suffix of its
// media type after ".v1.".
type LayerFormat string

const (
	// FormatRaw: the blob is one file's bytes; the layer digest is the
	// file's sha256. What push writes by default.
	FormatRaw LayerFormat = "raw"
	// FormatTar: the blob is a tar archive of files.
	FormatTar LayerFormat = "tar"
	// FormatTarGzip: a gzip-compressed tar archive.
	FormatTarGzip LayerFormat = "tar+gzip"
	// FormatTarZstd: a zstd-compressed tar archive.
	FormatTarZstd LayerFormat = "tar+zstd"
)

// LayerFormats lists the layer forms of the ModelPack specification.
var LayerFormats = []LayerFormat{FormatRaw, FormatTar, FormatTarGzip, FormatTarZstd}

// ParseLayerFormat accepts "raw", "tar", "tar+gzip" and "tar+zstd".
func ParseLayerFormat(s string) (LayerFormat, error) {
	for _, f := range LayerFormats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("layer format %q: want raw, tar, tar+gzip or tar+zstd", s)
}

// modelLayerKinds are the kinds of file the ModelPack specification gives a
// layer media type to.
var modelLayerKinds = []string{"weight", "weight.config", "doc", "code", "dataset"}

// ModelLayerFormat returns the form of a ModelPack layer media type
// (application/vnd.cncf.model.KIND.v1.FORM) and whether mediaType is one.
func ModelLayerFormat(mediaType string) (LayerFormat, bool) {
	rest, ok := strings.CutPrefix(mediaType, "application/vnd.cncf.model.")
	if !ok {
		return "", false
	}
	for _, k := range modelLayerKinds {
		form, ok := strings.CutPrefix(rest, k+".v1.")
		if !ok {
			continue
		}
		for _, f := range LayerFormats {
			if string(f) == form {
				return f, true
			}
		}
	}
	return "", false
}

// Kind is what a file in a model is for. It only chooses a layer media type;
// scanning never trusts it (formats are sniffed from content).
type Kind int

const (
	KindWeight Kind = iota
	KindWeightConfig
	KindDoc
	KindCode
)

// LayerMediaType returns the media type of a layer of kind k in form f.
func (k Kind) LayerMediaType(f LayerFormat) string {
	if f == "" || f == FormatRaw {
		return k.MediaType()
	}
	return strings.TrimSuffix(k.MediaType(), string(FormatRaw)) + string(f)
}

// MediaType returns the raw layer media type of k.
func (k Kind) MediaType() string {
	switch k {
	case KindWeightConfig:
		return MediaTypeWeightConfig
	case KindDoc:
		return MediaTypeDoc
	case KindCode:
		return MediaTypeCode
	default:
		return MediaTypeWeight
	}
}

var (
	docNames = []string{"readme", "license", "licence", "notice", "copying", "authors",
		"contributors", "changelog", "citation", "model_card", "modelcard", "use_policy"}
	docExts  = map[string]bool{".md": true, ".rst": true, ".pdf": true, ".html": true, ".htm": true, ".adoc": true}
	codeExts = map[string]bool{".py": true, ".pyi": true, ".ipynb": true, ".sh": true, ".bash": true,
		".js": true, ".ts": true, ".c": true, ".cc": true, ".cpp": true, ".h": true, ".hpp": true,
		".cu": true, ".cuh": true, ".go": true, ".rs": true, ".java": true, ".r": true, ".jl": true,
		".lua": true, ".swift": true, ".kt": true, ".scala": true, ".rb": true, ".pl": true}
	codeNames   = map[string]bool{"dockerfile": true, "makefile": true, "requirements.txt": true, "setup.cfg": true, "pyproject.toml": true}
	configExts  = map[string]bool{".json": true, ".yaml": true, ".yml": true, ".toml": true, ".ini": true, ".cfg": true, ".tiktoken": true, ".jinja": true}
	configNames = map[string]bool{"tokenizer.model": true, "vocab.txt": true, "merges.txt": true, "spiece.model": true, "sentencepiece.bpe.model": true}
)

// KindOf guesses the kind of a file from its relative path. Unknown files are
// weights: a large file with an unfamiliar name is most likely a checkpoint.
func KindOf(p string) Kind {
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	switch {
	case codeNames[base] || codeExts[ext]:
		return KindCode
	case configNames[base] || configExts[ext]:
		return KindWeightConfig
	case docExts[ext]:
		return KindDoc
	}
	for _, n := range docNames {
		if stem == n || strings.HasPrefix(stem, n+"-") || strings.HasPrefix(stem, n+"_") || (ext == ".txt" && strings.HasPrefix(stem, n)) {
			return KindDoc
		}
	}
	return KindWeight
}

// weightFormats maps weight file extensions to the ModelPack config "format".
var weightFormats = map[string]string{
	".safetensors": "safetensors",
	".gguf":        "gguf",
	".ggml":        "ggml",
	".onnx":        "onnx",
	".pt":          "pytorch",
	".pth":         "pytorch",
	".bin":         "pytorch",
	".ckpt":        "pytorch",
	".mar":         "pytorch",
	".h5":          "keras",
	".hdf5":        "keras",
	".keras":       "keras",
	".pb":          "tensorflow",
	".tflite":      "tflite",
	".pkl":         "pickle",
	".pickle":      "pickle",
	".joblib":      "joblib",
	".npy":         "numpy",
	".npz":         "numpy",
	".msgpack":     "flax",
	".mlmodel":     "coreml",
	".nemo":        "nemo",
}
