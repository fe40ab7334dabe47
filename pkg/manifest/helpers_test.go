package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/internal/testutil/registry"
)

// writeModel writes a small model directory with every kind of file, nested
// paths, an empty file, two files with the same content and the entries
// that Push ignores by default.
func writeModel(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	weights := make([]byte, 3<<20+17)
	for i := range weights {
		weights[i] = byte(rnd.UintN(256))
	}
	files := map[string][]byte{
		"config.json":                       []byte(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","torch_dtype":"bfloat16"}`),
		"model.safetensors":                 weights,
		"tokenizer/tokenizer.json":          []byte(`{"version":"1.0"}`),
		"tokenizer/special_tokens_map.json": []byte(`{"version":"1.0"}`),
		"README.md":                         []byte("# model\n"),
		"code/modeling.py":                  []byte("import torch\n"),
		"empty.bin":                         {},
	}
	for p, b := range files {
		writeFile(t, filepath.Join(dir, p), b)
	}
	writeFile(t, filepath.Join(dir, ".git", "HEAD"), []byte("ref: refs/heads/main\n"))
	writeFile(t, filepath.Join(dir, "model.sig"), []byte("{}"))
	return files
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readTree returns every regular file under dir by relative slash path.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type targetCase struct {
	name string
	open func(t *testing.T, repo string, create bool) (Target, Ref)
}

// targetCases are the stores every round trip runs against.
func targetCases() []targetCase {
	remote := func(referrers bool) func(*testing.T, string, bool) (Target, Ref) {
		return func(t *testing.T, repo string, _ bool) (Target, Ref) {
			host := registry.NewInProcess(t, referrers)
			return openRef(t, "oci://"+host+"/"+repo+":v1", RegistryOptions{PlainHTTP: true})
		}
	}
	return []targetCase{
		{"registry with referrers API", remote(true)},
		{"registry without referrers API", remote(false)},
		{"local OCI layout", func(t *testing.T, _ string, create bool) (Target, Ref) {
			return openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "layout")+":v1", RegistryOptions{CreateLayout: create})
		}},
	}
}

func openRef(t testing.TB, s string, opts RegistryOptions) (Target, Ref) {
	t.Helper()
	ref, err := ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	target, err := Open(context.Background(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return target, ref
}

// pushRaw stores blobs and a hand-written manifest under tag, bypassing
// Push's checks, as a hostile publisher could.
func pushRaw(t testing.TB, target Target, tag string, m ocispec.Manifest, blobs ...[]byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	for _, b := range blobs {
		d := content.NewDescriptorFromBytes("application/octet-stream", b)
		if ok, _ := target.Exists(ctx, d); !ok {
			if err := target.Push(ctx, d, bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	if err := pushBytes(ctx, target, desc, mb, tag); err != nil {
		t.Fatal(err)
	}
	return desc
}

// modelManifest makes a model manifest whose layers are the given blobs at
// the given paths.
func modelManifest(t testing.TB, cfg []byte, layers map[string][]byte, order []string) ocispec.Manifest {
	t.Helper()
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeModel,
		Config:       content.NewDescriptorFromBytes(MediaTypeModelConfig, cfg),
	}
	for _, p := range order {
		d := content.NewDescriptorFromBytes(MediaTypeWeight, layers[p])
		d.Annotations = map[string]string{AnnotationFilepath: p, AnnotationTitle: p}
		m.Layers = append(m.Layers, d)
	}
	return m
}

var m2 = specs.Versioned{SchemaVersion: 2}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
