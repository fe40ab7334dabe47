package manifest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// Push a model directory to a local OCI layout, list its OMS resources from
// the manifest alone, and pull it back.
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	model := filepath.Join(tmp, "model")
	os.MkdirAll(filepath.Join(model, "tokenizer"), 0o755)
	os.WriteFile(filepath.Join(model, "model.safetensors"), []byte("weights"), 0o644)
	os.WriteFile(filepath.Join(model, "tokenizer", "tokenizer.json"), []byte("{}"), 0o644)

	ref, _ := manifest.ParseRef("oci-layout://" + filepath.Join(tmp, "store") + ":v1")
	target, _ := manifest.Open(ctx, ref, manifest.RegistryOptions{CreateLayout: true})
	if _, err := manifest.Push(ctx, model, target, ref, manifest.PushOptions{}); err != nil {
		fmt.Println(err)
		return
	}

	_, m, _ := manifest.Resolve(ctx, target, ref)
	resources, _ := manifest.LayerResources(m)
	for _, r := range resources {
		fmt.Println(r.Path, r.Size, r.Digest[:12])
	}
	if err := manifest.Pull(ctx, target, ref, filepath.Join(tmp, "pulled"), manifest.PullOptions{}); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(filepath.Join(tmp, "pulled", "model.safetensors"))
	fmt.Println(string(b))
	// Output:
	// model.safetensors 7 9a129038d9a0
	// tokenizer/tokenizer.json 2 44136fa355b3
	// weights
}
