package hdf5

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

const fixtures = "../../../fixtures/formats/keras"

func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.h5"))
	if len(files) < 6 {
		t.Fatalf("%d fixtures", len(files))
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), f, name)
			want := map[string]scan.Verdict{"benign": scan.VerdictClean, "evil": scan.VerdictDangerous, "malformed": scan.VerdictMalformed}[strings.SplitN(name, "_", 2)[0]]
			if tg.Verdict != want {
				t.Fatalf("verdict %s, want %s: %+v %s", tg.Verdict, want, tg.Findings, tg.Error)
			}
			if want == scan.VerdictDangerous {
				f := tg.Findings[0]
				if f.RuleID != scan.RuleKerasLambda || f.Severity != scan.SeverityCritical {
					t.Fatalf("findings %+v", tg.Findings)
				}
				// Readable attributes are judged as JSON; dense storage by
				// the raw-bytes fallback.
				dense := strings.Contains(name, "dense")
				if !dense && (tg.Format != "keras-h5" || f.Member != "@model_config") || dense && f.Member != "" {
					t.Fatalf("format %s findings %+v", tg.Format, tg.Findings)
				}
			}
		})
	}
}

func TestRootAttributes(t *testing.T) {
	for _, name := range []string{"benign_legacy.h5", "benign_legacy_latest_format.h5", "evil_lambda_legacy_vlen.h5"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(fixtures, name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Open(bytes.NewReader(b), int64(len(b)), scan.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := f.RootAttributes()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, a := range attrs {
				got[a.Name] = string(a.Value)
			}
			if got["backend"] != "tensorflow" || got["keras_version"] != "2.13.1" ||
				!strings.HasPrefix(got["model_config"], `{"class_name": "Sequential"`) ||
				!strings.HasSuffix(got["model_config"], `"backend": "tensorflow"}`) ||
				!strings.HasPrefix(got["training_config"], `{"loss": "mse"`) {
				t.Fatalf("attributes %q", got)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.h5"))
	more, _ := filepath.Glob("../../../fixtures/formats/hdf5/*.h5")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	lim := scan.DefaultLimits
	lim.MaxHeaderBytes = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Open(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			return
		}
		h.RootAttributes()
		h.Walk(func(o *Object) error {
			attrs, _ := h.Attributes(o)
			if isObjectVLArray(attrs) {
				return h.vlRows(o, func(int64, []byte) error { return nil })
			}
			return nil
		})
	})
}

const pytablesFixtures = "../../../fixtures/formats/pytables"

// PyTables unpickles string attributes ending with "." on every node; the
// fixtures' generator proves with the real library which ones import
// posix.system.
func TestPickledAttributesAnywhereInTheTree(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(pytablesFixtures, "*.h5"))
	if len(files) < 5 {
		t.Fatalf("%d fixtures", len(files))
	}
	members := map[string]string{
		"evil_group_attribute.h5":   "/models/layer1@hook",
		"evil_dataset_attribute.h5": "/models/layer1/weights@hook",
		"evil_noproto_attribute.h5": "/models/layer2@hook",
	}
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), f, name)
			want, evil := members[name]
			if !evil {
				if tg.Verdict != scan.VerdictClean || len(tg.Findings) != 0 {
					t.Fatalf("verdict %s findings %+v %s", tg.Verdict, tg.Findings, tg.Error)
				}
				return
			}
			if tg.Verdict != scan.VerdictDangerous || len(tg.Findings) != 1 {
				t.Fatalf("verdict %s findings %+v %s", tg.Verdict, tg.Findings, tg.Error)
			}
			if g := tg.Findings[0]; g.RuleID != scan.RuleDangerousGlobal || g.Symbol != "posix.system" || g.Member != want {
				t.Errorf("finding %+v, want posix.system in %s", g, want)
			}
		})
	}
}
