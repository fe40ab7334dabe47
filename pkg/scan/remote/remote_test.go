package remote_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

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
			sc := scan.New(scan.Options{Formats: all.Formats()})
			if !remote.IsRef(ref) {
				t.Fatalf("IsRef(%q) = false", ref)
			}
			targets, err := remote.Scan(context.Background(), sc, ref, opts)
			if err != nil {
				t.Fatal(err)
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
	sc := scan.New(scan.Options{Formats: all.Formats()})
	_, err := remote.Scan(context.Background(), sc, "oci-layout://"+filepath.Join(t.TempDir(), "none")+":v1", manifest.RegistryOptions{})
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
			sc := scan.New(scan.Options{Formats: all.Formats()})
			targets, err := remote.Scan(context.Background(), sc, ref, manifest.RegistryOptions{})
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
