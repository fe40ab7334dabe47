// Package formatstest runs the committed GGUF, ONNX, Keras, HDF5, JSON, NeMo,
// PaddlePaddle and TensorFlow fixtures through the default format list, so that the
// dispatcher's order (every format before the loose pickle match, none
// claiming another's files) is tested as users run it.
package formatstest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

const root = "../../../../fixtures/formats"

// expected reads a fixture's expected verdict from its name (or the name of
// the folder that holds it): benign_, report_ -> clean, evil_ -> dangerous,
// malformed_ -> malformed.
func expected(rel string) (scan.Verdict, bool) {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/")[1:] {
		switch strings.SplitN(part, "_", 2)[0] {
		case "benign", "report":
			return scan.VerdictClean, true
		case "evil":
			return scan.VerdictDangerous, true
		case "malformed":
			return scan.VerdictMalformed, true
		}
	}
	return "", false
}

var formatOf = map[string][]string{
	"gguf":     {"gguf"},
	"onnx":     {"onnx", "onnx-tensor"},
	"tfsaved":  {"tf-savedmodel", "tf-graphdef", "tf-fingerprint", "keras-metadata"},
	"keras":    {"keras-config", "keras-h5", "hdf5", "zip"},
	"pytables": {"hdf5"},
	"hdf5":     {"hdf5"},
	"json":     {"json"},
	"nemo":     {"nemo", "gzip"},
	"paddle":   {"pickle"},
}

func TestFixturesThroughDefaultFormats(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Workers: 1})
	// A fixture is a file, or a folder (a SavedModel, an ONNX model with its
	// external data) judged as a whole, as scanning the folder does.
	var fixtures []string
	areas, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range areas {
		if !a.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, a.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fixtures = append(fixtures, filepath.Join(a.Name(), e.Name()))
		}
	}
	n := 0
	for _, rel := range fixtures {
		want, ok := expected(rel)
		if !ok {
			continue
		}
		n++
		t.Run(rel, func(t *testing.T) {
			tgs, err := sc.ScanPaths(context.Background(), []string{filepath.Join(root, rel)})
			if err != nil {
				t.Fatal(err)
			}
			area := strings.Split(filepath.ToSlash(rel), "/")[0]
			got := scan.VerdictClean
			for _, tg := range tgs {
				if filepath.Base(tg.Path) == "weights.bin" {
					continue // raw tensor bytes: no format claims them
				}
				if tg.Verdict == scan.VerdictDangerous || tg.Verdict == scan.VerdictMalformed && got == scan.VerdictClean {
					got = tg.Verdict
				}
				ok := false
				for _, f := range formatOf[area] {
					ok = ok || tg.Format == f
				}
				if !ok {
					t.Fatalf("%s: format %s, want one of %v", tg.Path, tg.Format, formatOf[area])
				}
			}
			if got != want {
				t.Fatalf("verdict %s, want %s; targets %+v", got, want, tgs)
			}
		})
	}
	if n < 50 {
		t.Fatalf("only %d fixtures", n)
	}
}
