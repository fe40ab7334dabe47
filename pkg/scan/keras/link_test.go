package keras_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

const customFolder = "../../../fixtures/code/keras-custom"

// links lists the MV-REMOTE-CODE findings of a target as
// "severity member symbol: message".
func links(tg scan.Target) []string {
	var out []string
	for _, f := range tg.Findings {
		if f.RuleID == scan.RuleRemoteCode {
			out = append(out, f.Severity.String()+" "+f.Member+" "+f.Symbol+": "+f.Message)
		}
	}
	sort.Strings(out)
	return out
}

func scanFolder(t *testing.T, sc *scan.Scanner, dir string) map[string]scan.Target {
	t.Helper()
	tgs, err := sc.ScanPaths(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]scan.Target{}
	for _, tg := range tgs {
		rel, _ := filepath.Rel(dir, tg.Path)
		out[filepath.ToSlash(rel)] = tg
	}
	return out
}

// The folder is written by fixtures/code/make_keras_custom.py.
func TestModulesShippedInTheFolderAreLinkedToTheirFiles(t *testing.T) {
	tgs := scanFolder(t, scan.MustNew(scan.Options{Formats: all.Formats()}), customFolder)
	for file, member := range map[string]string{"model.keras": "config.json", "model.h5": "@model_config"} {
		got := links(tgs[file])
		want := []string{
			"high " + member + " custom_layers.py: config.layers[1].module names \"custom_layers\": custom_layers.py runs when Keras imports it",
			"high " + member + " custom_layers.py: config.layers[1].registered_name names \"custom_layers>ScaledDense\": custom_layers.py runs when Keras imports it",
			"high " + member + " my_pkg/activations.py: config.layers[1].config.activation.module names \"my_pkg.activations\": my_pkg/activations.py runs when Keras imports it",
		}
		if len(got) != len(want) {
			t.Fatalf("%s: links\n%s\nwant %d", file, strings.Join(got, "\n"), len(want))
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%s: link\n%s\nwant it to start with\n%s", file, got[i], want[i])
			}
		}
		// company_layers is not in the folder: a Keras module, not a link.
		var installed bool
		for _, f := range tgs[file].Findings {
			installed = installed || f.RuleID == scan.RuleKerasModule && f.Symbol == "company_layers.norm.RMSNorm"
		}
		if !installed || tgs[file].Verdict != scan.VerdictDangerous {
			t.Errorf("%s: verdict %s, findings %+v", file, tgs[file].Verdict, tgs[file].Findings)
		}
	}
	// The linked files are scanned as Python where the walk finds them.
	if tg := tgs["custom_layers.py"]; tg.Format != "python" || tg.Verdict != scan.VerdictDangerous {
		t.Errorf("custom_layers.py: %s %s", tg.Format, tg.Verdict)
	}
	var popen bool
	for _, f := range tgs["my_pkg/activations.py"].Findings {
		popen = popen || f.RuleID == scan.RulePythonDangerous && f.Severity == scan.SeverityCritical && f.Symbol == "subprocess.Popen"
	}
	if !popen {
		t.Errorf("my_pkg/activations.py: %+v", tgs["my_pkg/activations.py"].Findings)
	}
}

func TestWithoutAFolderNothingIsLinked(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, name := range []string{"model.keras", "model.h5"} {
		f, err := os.Open(filepath.Join(customFolder, name))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		tg := sc.ScanReaderAt(context.Background(), name, f, fi.Size())
		f.Close()
		if got := links(tg); len(got) != 0 || tg.Verdict != scan.VerdictDangerous {
			t.Errorf("%s: %s %v", name, tg.Verdict, got)
		}
	}
}

func TestAReviewedModuleIsAllowedByPathAndDigest(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"model.keras", "custom_layers.py", "my_pkg/activations.py"} {
		b, err := os.ReadFile(filepath.Join(customFolder, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, _ := os.ReadFile(filepath.Join(dir, "custom_layers.py"))
	sum := sha256.Sum256(src)
	pol, err := scan.ParsePolicy([]byte("kind: ScanPolicy\nallowCode:\n  - {path: custom_layers.py, digest: \"sha256:" + hex.EncodeToString(sum[:]) + "\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tgs := scanFolder(t, scan.MustNew(scan.Options{Formats: all.Formats(), Policy: pol}), dir)
	sev := map[string][]scan.Severity{}
	for _, f := range tgs["model.keras"].Findings {
		if f.RuleID == scan.RuleRemoteCode {
			sev[f.Symbol] = append(sev[f.Symbol], f.Severity)
		}
	}
	info, high := []scan.Severity{scan.SeverityInfo, scan.SeverityInfo}, []scan.Severity{scan.SeverityHigh}
	if !slices.Equal(sev["custom_layers.py"], info) || !slices.Equal(sev["my_pkg/activations.py"], high) {
		t.Fatalf("%v\n%s", sev, strings.Join(links(tgs["model.keras"]), "\n"))
	}
	// The Keras module itself is still reported: allowCode vouches for the
	// file, not for the config's other claims.
	if tgs["model.keras"].Verdict != scan.VerdictDangerous {
		t.Errorf("verdict %s", tgs["model.keras"].Verdict)
	}
}
