package manifest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

func TestPushPullRoundTrip(t *testing.T) {
	for _, tc := range targetCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := t.TempDir()
			files := writeModel(t, src)
			target, ref := tc.open(t, "models/tiny", true)

			var mu sync.Mutex
			uploaded := map[string]int64{}
			res, err := PushModel(ctx, src, target, ref, PushOptions{Progress: func(e Event) {
				if e.Phase == PhaseUpload {
					mu.Lock()
					uploaded[e.Path] += e.N
					mu.Unlock()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := uploaded["model.safetensors"]; got != int64(len(files["model.safetensors"])) {
				t.Errorf("progress reported %d bytes uploaded for the weights, want %d", got, len(files["model.safetensors"]))
			}
			// Two tokenizer files have the same content: one blob.
			if res.Uploaded != len(files)-1 || res.Skipped != 0 {
				t.Errorf("first push uploaded %d, skipped %d; want %d, 0", res.Uploaded, res.Skipped, len(files)-1)
			}

			// The manifest follows the ModelPack layout.
			desc, m, err := Resolve(ctx, target, ref)
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest != res.Descriptor.Digest {
				t.Fatalf("resolved %s, pushed %s", desc.Digest, res.Descriptor.Digest)
			}
			if m.ArtifactType != ArtifactTypeModel || m.Config.MediaType != MediaTypeModelConfig {
				t.Fatalf("artifactType %q config %q", m.ArtifactType, m.Config.MediaType)
			}
			wantTypes := map[string]string{
				"config.json":                       MediaTypeWeightConfig,
				"model.safetensors":                 MediaTypeWeight,
				"tokenizer/tokenizer.json":          MediaTypeWeightConfig,
				"tokenizer/special_tokens_map.json": MediaTypeWeightConfig,
				"README.md":                         MediaTypeDoc,
				"code/modeling.py":                  MediaTypeCode,
				"empty.bin":                         MediaTypeWeight,
			}
			for _, l := range m.Layers {
				p := l.Annotations[AnnotationFilepath]
				if l.Annotations[AnnotationTitle] != p {
					t.Errorf("%s: title %q", p, l.Annotations[AnnotationTitle])
				}
				if l.MediaType != wantTypes[p] {
					t.Errorf("%s: media type %q, want %q", p, l.MediaType, wantTypes[p])
				}
				if l.Digest.Encoded() != sha(files[p]) {
					t.Errorf("%s: layer digest %s is not the file's sha256", p, l.Digest)
				}
			}
			cfg, err := FetchConfig(ctx, target, m)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Config.Format != "safetensors" || cfg.Config.Architecture != "LlamaForCausalLM" || cfg.Config.Precision != "bf16" {
				t.Errorf("config properties %+v", cfg.Config)
			}
			if cfg.ModelFS.Type != "layers" || len(cfg.ModelFS.DiffIDs) != len(m.Layers) {
				t.Errorf("modelfs %+v", cfg.ModelFS)
			}

			// Resources agree, from the folder and from the manifest.
			fromDir, err := FolderResources(ctx, src, DefaultIgnore)
			if err != nil {
				t.Fatal(err)
			}
			fromManifest, err := LayerResources(m)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fromDir, fromManifest) {
				t.Fatalf("folder resources %v\nmanifest resources %v", fromDir, fromManifest)
			}

			// Pull gives back the same bytes, and nothing else.
			dst := filepath.Join(t.TempDir(), "out")
			if err := Pull(ctx, target, ref, dst, PullOptions{}); err != nil {
				t.Fatal(err)
			}
			got := readTree(t, dst)
			if !maps.EqualFunc(got, files, bytes.Equal) {
				t.Fatalf("pulled files %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(files)))
			}

			// Pushing again uploads nothing and gives the same digest.
			again, err := PushModel(ctx, src, target, ref, PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Uploaded != 0 || again.Skipped != res.Uploaded {
				t.Errorf("second push uploaded %d, skipped %d", again.Uploaded, again.Skipped)
			}
			if again.Descriptor.Digest != res.Descriptor.Digest {
				t.Errorf("second push digest %s, first %s", again.Descriptor.Digest, res.Descriptor.Digest)
			}

			// Pull by digest, over existing files.
			if err := Pull(ctx, target, ref.WithDigest(desc.Digest), dst, PullOptions{Concurrency: 1}); err != nil {
				t.Fatal(err)
			}
			if got := readTree(t, dst); !maps.EqualFunc(got, files, bytes.Equal) {
				t.Fatal("second pull changed the files")
			}

			info, err := Inspect(ctx, target, ref)
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest != desc.Digest || len(info.Files) != len(files) || info.Config == nil {
				t.Fatalf("inspect: %+v", info)
			}
		})
	}
}

func TestPushRefusesSymlinksAndEmptyDirs(t *testing.T) {
	ctx := context.Background()
	target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l"), RegistryOptions{CreateLayout: true})

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, ".git", "config"), []byte("x"))
	if _, err := Push(ctx, empty, target, ref, PushOptions{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("push of a directory with only ignored files: %v, want ErrEmpty", err)
	}

	withLink := t.TempDir()
	writeFile(t, filepath.Join(withLink, "a.bin"), []byte("x"))
	if err := os.Symlink("/etc/passwd", filepath.Join(withLink, "b.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, withLink, target, ref, PushOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("push of a directory with a symlink: %v, want ErrUnsafePath", err)
	}
}

func TestPushWithDigestMustMatch(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "w.bin"), []byte("weights"))
	target, ref := openRef(t, "oci-layout://"+filepath.Join(t.TempDir(), "l")+"@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", RegistryOptions{CreateLayout: true})
	if _, err := Push(ctx, src, target, ref, PushOptions{}); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("push with a digest that is not the manifest's: %v", err)
	}
}

func TestOpenLayoutDoesNotCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	ref, _ := ParseRef("oci-layout://" + dir)
	if _, err := Open(context.Background(), ref, RegistryOptions{}); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("Open of a missing layout: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Open created %s", dir)
	}
}

func TestReferrers(t *testing.T) {
	for _, tc := range targetCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := t.TempDir()
			writeFile(t, filepath.Join(src, "w.bin"), []byte("weights"))
			target, ref := tc.open(t, "m", true)
			desc, err := Push(ctx, src, target, ref, PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			supported, err := ReferrersSupported(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.name != "registry without referrers API"
			if supported != want {
				t.Errorf("ReferrersSupported = %v, want %v", supported, want)
			}

			// A signature-like referrer, stored with the tag schema when the
			// registry has no referrers API.
			bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
			const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
			sig := ocispec.Manifest{
				Versioned:    m2,
				MediaType:    ocispec.MediaTypeImageManifest,
				ArtifactType: bundleType,
				Config:       ocispec.DescriptorEmptyJSON,
				Layers:       []ocispec.Descriptor{content.NewDescriptorFromBytes(bundleType, bundle)},
				Subject:      &desc,
			}
			sigDesc := pushRaw(t, target, "", sig, bundle, ocispec.DescriptorEmptyJSON.Data)
			got, err := Referrers(ctx, target, desc, bundleType)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Digest != sigDesc.Digest {
				t.Fatalf("referrers %v, want %s", got, sigDesc.Digest)
			}
			if other, err := Referrers(ctx, target, desc, "application/other"); err != nil || len(other) != 0 {
				t.Fatalf("referrers of another type: %v, %v", other, err)
			}
		})
	}
}
