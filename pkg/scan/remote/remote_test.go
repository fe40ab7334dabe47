package remote_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/internal/testutil/modelcar"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/remote"
)

func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "containers", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeModel writes a model folder whose nested file is a malicious
// checkpoint.
func writeModel(t *testing.T) string {
	dir := t.TempDir()
	files := map[string][]byte{
		"model.safetensors":      fixture(t, "benign/model.safetensors"),
		"config.json":            []byte(`{"model_type":"test"}`),
		"extra/optimizer.pt":     fixture(t, "malicious/torch_zip_reduce.pt"),
		"extra/state_dict.pt":    fixture(t, "benign/state_dict.pt"),
		"broken.safetensors":     fixture(t, "malformed/overlap.safetensors"),
		"weights/arrays.npz":     fixture(t, "benign/plain.npz"),
		"weights/sklearn.joblib": fixture(t, "benign/joblib_zlib.joblib"),
	}
	for p, b := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func push(t *testing.T, dir, ref string, opts manifest.RegistryOptions) {
	r, err := manifest.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	opts.CreateLayout = true
	target, err := manifest.Open(context.Background(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Push(context.Background(), dir, target, r, manifest.PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestScanReportsEveryLayerByItsPath(t *testing.T) {
	dir := writeModel(t)
	cases := []struct {
		name string
		ref  func(t *testing.T) (string, manifest.RegistryOptions)
	}{
		{"a registry", func(t *testing.T) (string, manifest.RegistryOptions) {
			return "oci://" + registry.NewInProcess(t, true) + "/models/test:v1", manifest.RegistryOptions{PlainHTTP: true}
		}},
		{"a local OCI layout", func(t *testing.T) (string, manifest.RegistryOptions) {
			return "oci-layout://" + filepath.Join(t.TempDir(), "layout") + ":v1", manifest.RegistryOptions{}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref, opts := c.ref(t)
			push(t, dir, ref, opts)
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			if !remote.IsRef(ref) {
				t.Fatalf("IsRef(%q) = false", ref)
			}
			var calls, last, total int64
			progress := func(done, all int64) {
				if done < last || done > all {
					t.Errorf("progress %d of %d after %d", done, all, last)
				}
				calls, last, total = calls+1, done, all
			}
			targets, err := remote.Scan(context.Background(), sc, ref, remote.Options{Registry: opts, Progress: progress})
			if err != nil {
				t.Fatal(err)
			}
			// Every layer is fetched once, and the progress reaches the sum
			// of the layer sizes.
			var size int64
			for _, tg := range targets {
				size += tg.Size
			}
			if calls == 0 || last != total || total != size {
				t.Errorf("progress: %d calls, last %d of %d; the layers hold %d bytes", calls, last, total, size)
			}
			got := map[string]scan.Target{}
			for _, tg := range targets {
				got[tg.Path] = tg
			}
			want := map[string]struct {
				format  string
				verdict scan.Verdict
			}{
				"model.safetensors":      {"safetensors", scan.VerdictClean},
				"broken.safetensors":     {"safetensors", scan.VerdictMalformed},
				"extra/state_dict.pt":    {"pytorch-zip", scan.VerdictClean},
				"extra/optimizer.pt":     {"pytorch-zip", scan.VerdictDangerous},
				"weights/arrays.npz":     {"numpy-npz", scan.VerdictClean},
				"weights/sklearn.joblib": {"zlib", scan.VerdictClean},
			}
			for p, w := range want {
				tg, ok := got[ref+"/"+p]
				if !ok {
					t.Errorf("no target for %s; got %v", p, targets)
					continue
				}
				if tg.Format != w.format || tg.Verdict != w.verdict {
					t.Errorf("%s: format %s verdict %s, want %s %s (%+v)", p, tg.Format, tg.Verdict, w.format, w.verdict, tg.Findings)
				}
				if len(tg.Digest) != len("sha256:")+64 {
					t.Errorf("%s: digest %q", p, tg.Digest)
				}
			}
		})
	}
}

func TestScanFailsForAMissingReference(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	_, err := remote.Scan(context.Background(), sc, "oci-layout://"+filepath.Join(t.TempDir(), "none")+":v1", remote.Options{})
	if err == nil {
		t.Fatal("scan of a missing layout succeeded")
	}
}

func TestScanReadsTheFilesInsideTarLayers(t *testing.T) {
	dir := writeModel(t)
	for _, f := range []manifest.LayerFormat{manifest.FormatTar, manifest.FormatTarGzip, manifest.FormatTarZstd} {
		t.Run(string(f), func(t *testing.T) {
			ref := "oci-layout://" + filepath.Join(t.TempDir(), "layout") + ":v1"
			r, _ := manifest.ParseRef(ref)
			target, err := manifest.Open(context.Background(), r, manifest.RegistryOptions{CreateLayout: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := manifest.Push(context.Background(), dir, target, r, manifest.PushOptions{LayerFormat: f}); err != nil {
				t.Fatal(err)
			}
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			targets, err := remote.Scan(context.Background(), sc, ref, remote.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]scan.Target{}
			for _, tg := range targets {
				got[tg.Path] = tg
			}
			want := map[string]scan.Verdict{
				"model.safetensors":   scan.VerdictClean,
				"broken.safetensors":  scan.VerdictMalformed,
				"extra/optimizer.pt":  scan.VerdictDangerous,
				"extra/state_dict.pt": scan.VerdictClean,
				"config.json":         scan.VerdictClean,
			}
			for p, v := range want {
				tg, ok := got[ref+"/"+p]
				if !ok {
					t.Errorf("no target for %s in a %s layer; got %d targets", p, f, len(targets))
					continue
				}
				if tg.Verdict != v {
					t.Errorf("%s: verdict %s, want %s", p, tg.Verdict, v)
				}
				if p == "config.json" && tg.Digest != "sha256:"+sha256hex(`{"model_type":"test"}`) {
					t.Errorf("%s: digest %s is not the file's sha256", p, tg.Digest)
				}
			}
			if len(targets) != 7 {
				t.Errorf("%d targets, want one per file (7)", len(targets))
			}
		})
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestScanAppliesTheLayersOfAModelcar(t *testing.T) {
	evil := fixture(t, "malicious/torch_zip_reduce.pt")
	for _, oci := range []bool{true, false} {
		t.Run(map[bool]string{true: "OCI image", false: "Docker image"}[oci], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			modelcar.WriteLayout(t, dir, "v1", modelcar.Standard(t, oci, evil))
			ref := "oci-layout://" + dir + ":v1"
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			res, err := remote.ScanArtifact(context.Background(), sc, ref, remote.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]scan.Target{}
			for _, tg := range res.Targets {
				got[strings.TrimPrefix(tg.Path, ref+"/")] = tg
			}
			if tg, ok := got["models/extra/evil.pkl"]; !ok || tg.Verdict != scan.VerdictDangerous {
				t.Errorf("the malicious checkpoint in the top layer: %+v (present %v)", tg, ok)
			}
			for _, gone := range []string{"models/old.pt", "models/sub/gone.txt", "models/link", "bin"} {
				if _, ok := got[gone]; ok {
					t.Errorf("%s was scanned, but a whiteout, an opaque folder or its link type removes it", gone)
				}
			}
			for _, kept := range []string{"models/model.safetensors", "models/config.json", "models/sub/keep.txt", "etc/os-release"} {
				if _, ok := got[kept]; !ok {
					t.Errorf("%s was not scanned; got %v", kept, got)
				}
			}
			if len(res.Notes) < 4 || !strings.Contains(strings.Join(res.Notes, "\n"), "read as a container image") {
				t.Errorf("notes %q", res.Notes)
			}
		})
	}
}

func TestScanReadsAnyOtherArtifactFileByFile(t *testing.T) {
	ctx := context.Background()
	// What "oras push REF evil.pt" writes: the raw file under oras's default
	// layer type, and a Helm-like gzip tar layer holding a pickle.
	evil := fixture(t, "malicious/torch_zip_reduce.pt")
	chart := fixture(t, "malicious/nested.tar.gz")
	l1 := content.NewDescriptorFromBytes("application/vnd.oci.image.layer.v1.tar", evil)
	l1.Annotations = map[string]string{ocispec.AnnotationTitle: "evil.pt"}
	l2 := content.NewDescriptorFromBytes("application/vnd.cncf.helm.chart.content.v1.tar+gzip", chart)
	ref := layoutArtifact(t, "application/vnd.example.thing", []blob{{l1, evil}, {l2, chart}}, nil)
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	res, err := remote.ScanArtifact(ctx, sc, ref, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 2 {
		t.Fatalf("targets %+v", res.Targets)
	}
	for _, tg := range res.Targets {
		if tg.Verdict != scan.VerdictDangerous {
			t.Errorf("%s: verdict %s, want dangerous", tg.Path, tg.Verdict)
		}
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "scanned file by file") || !strings.Contains(notes, "evil.pt") {
		t.Errorf("notes %q", notes)
	}
}

func TestScanReportsAHostileTarLayerAsMalformed(t *testing.T) {
	ctx := context.Background()
	// A tar whose first entry is a symlink out of the model folder.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "weights", Linkname: "/etc"})
	tw.Close()
	tarBlob := buf.Bytes()
	layer := content.NewDescriptorFromBytes(manifest.KindWeight.LayerMediaType(manifest.FormatTar), tarBlob)
	cfg := []byte(`{"descriptor":{},"config":{},"modelfs":{"type":"layers","diff_ids":[]}}`)
	cd := content.NewDescriptorFromBytes(manifest.MediaTypeModelConfig, cfg)
	ref := layoutArtifact(t, manifest.ArtifactTypeModel, []blob{{layer, tarBlob}}, &blob{cd, cfg})
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	targets, err := remote.Scan(ctx, sc, ref, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Verdict != scan.VerdictMalformed || !strings.Contains(targets[0].Error, "link") {
		t.Fatalf("targets %+v, want one malformed target about the link", targets)
	}
}

// blob is one blob of a test artifact and its descriptor.
type blob struct {
	d ocispec.Descriptor
	b []byte
}

// layoutArtifact pushes blobs into a new OCI layout and tags as v1 the
// manifest of type artifactType over layers (and config, when not nil); it
// returns the tag's reference.
func layoutArtifact(t *testing.T, artifactType string, layers []blob, config *blob) string {
	t.Helper()
	ctx := context.Background()
	target, r := newLayout(t)
	opts := oras.PackManifestOptions{}
	all := layers
	for _, l := range layers {
		opts.Layers = append(opts.Layers, l.d)
	}
	if config != nil {
		opts.ConfigDescriptor = &config.d
		all = append(all, *config)
	}
	for _, b := range all {
		if err := target.Push(ctx, b.d, bytes.NewReader(b.b)); err != nil {
			t.Fatal(err)
		}
	}
	md, err := oras.PackManifest(ctx, target, oras.PackManifestVersion1_1, artifactType, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Tag(ctx, md, "v1"); err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// An artifact that yields no file is not clean: a model manifest without
// layers, and any other artifact without layers, are each one
// MV-NOTHING-SCANNED target named by the reference.
func TestScanOfAnArtifactWithoutFilesScansNothing(t *testing.T) {
	ctx := context.Background()
	cfg := []byte(`{"descriptor":{},"config":{},"modelfs":{"type":"layers","diff_ids":[]}}`)
	cd := content.NewDescriptorFromBytes(manifest.MediaTypeModelConfig, cfg)
	for _, c := range []struct {
		name, artifactType string
		config             *blob
		why                string
	}{
		{"a model manifest without layers", manifest.ArtifactTypeModel, &blob{cd, cfg}, "no file layer"},
		{"another artifact without layers", "application/vnd.example.thing", nil, "no layer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := layoutManifest(t, c.artifactType, c.config)
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			targets, err := remote.Scan(ctx, sc, ref, remote.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) != 1 || targets[0].Path != ref || targets[0].Verdict != scan.VerdictMalformed ||
				targets[0].Format != scan.FormatNothing || len(targets[0].Findings) != 1 ||
				targets[0].Findings[0].RuleID != scan.RuleNothingScanned ||
				!strings.Contains(targets[0].Error, "nothing scanned: ") || !strings.Contains(targets[0].Error, c.why) {
				t.Fatalf("targets %+v, want one nothing-scanned target saying %q", targets, c.why)
			}
		})
	}
}

// layoutManifest tags as v1, in a new OCI layout, an image manifest of type
// artifactType with no layers at all (config the empty descriptor when nil),
// as a hostile or broken publisher may write it, and returns its reference.
func layoutManifest(t *testing.T, artifactType string, config *blob) string {
	t.Helper()
	ctx := context.Background()
	target, r := newLayout(t)
	cfg := blob{ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data}
	if config != nil {
		cfg = *config
	}
	if err := target.Push(ctx, cfg.d, bytes.NewReader(cfg.b)); err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: cfg.d, Layers: []ocispec.Descriptor{}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, b)
	if err := target.Push(ctx, md, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := target.Tag(ctx, md, "v1"); err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// An artifact packed by oras without files carries the empty descriptor as
// its only layer: that is no file either.
func TestScanOfAnArtifactWithOnlyTheEmptyLayerScansNothing(t *testing.T) {
	ref := layoutArtifact(t, "application/vnd.example.thing", nil, nil)
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	targets, err := remote.Scan(context.Background(), sc, ref, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Format != scan.FormatNothing || targets[0].Verdict != scan.VerdictMalformed {
		t.Fatalf("targets %+v, want one nothing-scanned target", targets)
	}
}

// newLayout opens a new, empty OCI layout, with the reference of its tag v1.
func newLayout(t *testing.T) (manifest.Target, manifest.Ref) {
	t.Helper()
	r, _ := manifest.ParseRef("oci-layout://" + filepath.Join(t.TempDir(), "layout") + ":v1")
	target, err := manifest.Open(context.Background(), r, manifest.RegistryOptions{CreateLayout: true})
	if err != nil {
		t.Fatal(err)
	}
	return target, r
}
