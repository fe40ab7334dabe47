package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
)

func TestPushInspectPullCommands(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"model.safetensors": strings.Repeat("w", 1000),
		"config.json":       `{"model_type":"bert"}`,
		"docs/README.md":    "# readme",
	}
	for p, c := range files {
		name := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refs := map[string][]string{
		"registry": {"oci://" + registry.NewInProcess(t, true) + "/models/bert:v1", "--plain-http"},
		"layout":   {"oci-layout://" + filepath.Join(t.TempDir(), "store") + ":v1"},
	}
	for name, r := range refs {
		t.Run(name, func(t *testing.T) {
			ref, flags := r[0], r[1:]
			out, errOut, code := runCLI(t, append([]string{"push", src, ref}, flags...)...)
			if code != 0 {
				t.Fatalf("push exit %d: %s", code, errOut)
			}
			pushed, err := manifest.ParseRef(strings.TrimSpace(out))
			if err != nil || pushed.Digest == "" {
				t.Fatalf("push printed %q: %v", out, err)
			}
			if !strings.Contains(errOut, "3 blobs uploaded") {
				t.Errorf("push summary %q", errOut)
			}

			out, errOut, code = runCLI(t, append([]string{"inspect", "--format", "json", ref}, flags...)...)
			if code != 0 {
				t.Fatalf("inspect exit %d: %s", code, errOut)
			}
			var info manifest.Info
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatal(err)
			}
			if info.Digest != pushed.Digest || info.ArtifactType != manifest.ArtifactTypeModel || len(info.Files) != 3 {
				t.Fatalf("inspect: %+v", info)
			}
			out, _, code = runCLI(t, append([]string{"inspect", ref}, flags...)...)
			if code != 0 || !strings.Contains(out, "docs/README.md") || !strings.Contains(out, manifest.MediaTypeDoc) || !strings.Contains(out, pushed.Digest.String()) {
				t.Fatalf("inspect text exit %d:\n%s", code, out)
			}

			dst := t.TempDir()
			_, errOut, code = runCLI(t, append([]string{"pull", "-q", pushed.String(), dst}, flags...)...)
			if code != 0 {
				t.Fatalf("pull exit %d: %s", code, errOut)
			}
			if errOut != "" {
				t.Errorf("pull -q wrote %q to stderr", errOut)
			}
			for p, c := range files {
				b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(p)))
				if err != nil || string(b) != c {
					t.Errorf("%s: %q, %v", p, b, err)
				}
			}
		})
	}
}

func TestRegistryCommandExitCodes(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "w.bin"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"a reference without a scheme or host is a usage error", []string{"inspect", "model:v1"}, exitUsage},
		{"an unknown scheme is a usage error", []string{"pull", "https://x/y", t.TempDir()}, exitUsage},
		{"a missing argument is a usage error", []string{"push", src}, exitUsage},
		{"pushing a file instead of a directory is a usage error", []string{"push", filepath.Join(src, "w.bin"), "oci-layout://" + store}, exitUsage},
		{"a bad --format is a usage error", []string{"inspect", "--format", "xml", "oci-layout://" + store}, exitUsage},
		{"a missing layout cannot be decided", []string{"inspect", "oci-layout://" + filepath.Join(t.TempDir(), "none")}, exitFailed},
		{"an unreachable registry cannot be decided", []string{"inspect", "--plain-http", "oci://127.0.0.1:1/m:v1"}, exitFailed},
		{"a push to a layout succeeds", []string{"push", "-q", src, "oci-layout://" + store + ":v1"}, exitOK},
		{"a missing tag cannot be decided", []string{"pull", "oci-layout://" + store + ":nope", t.TempDir()}, exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, errOut, code := runCLI(t, tt.args...); code != tt.want {
				t.Fatalf("exit %d, want %d: %s", code, tt.want, errOut)
			}
		})
	}
}

// TestPullHostileManifestExitsTwo stores a model manifest whose layer path
// climbs out of the target directory and checks that pull refuses it with
// exit 2 and writes nothing.
func TestPullHostileManifestExitsTwo(t *testing.T) {
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "store")
	store, err := oci.NewWithContext(ctx, layout)
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("payload")
	layer := content.NewDescriptorFromBytes(manifest.MediaTypeWeight, blob)
	layer.Annotations = map[string]string{manifest.AnnotationFilepath: "../escaped", manifest.AnnotationTitle: "../escaped"}
	cfg := []byte(`{}`)
	cfgDesc := content.NewDescriptorFromBytes(manifest.MediaTypeModelConfig, cfg)
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{layer, blob}, {cfgDesc, cfg}} {
		if err := store.Push(ctx, b.d, bytes.NewReader(b.b)); err != nil {
			t.Fatal(err)
		}
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, manifest.ArtifactTypeModel, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer}, ConfigDescriptor: &cfgDesc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(ctx, desc, "evil"); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	_, errOut, code := runCLI(t, "pull", "oci-layout://"+layout+":evil", filepath.Join(parent, "out"))
	if code != exitFailed || !strings.Contains(errOut, "unsafe path") {
		t.Fatalf("exit %d, want %d: %s", code, exitFailed, errOut)
	}
	if e, _ := os.ReadDir(parent); len(e) != 0 {
		t.Fatalf("pull wrote %v", e)
	}
}
