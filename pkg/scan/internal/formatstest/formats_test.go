// Package formatstest runs the committed GGUF, ONNX, Keras, HDF5, JSON and
// TensorFlow fixtures through the default format list, so that the
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
	"gguf":    {"gguf"},
	"onnx":    {"onnx"},
	"tfsaved": {"tf-savedmodel", "tf-fingerprint"},
	"keras":   {"keras-config", "keras-h5", "hdf5", "zip"},
	"json":    {"json"},
}

func TestFixturesThroughDefaultFormats(t *testing.T) {
	sc := scan.New(scan.Options{Formats: all.Formats(), Workers: 1})
	n := 0
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(path, ".py") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		want, ok := expected(rel)
		if !ok || filepath.Base(path) == "weights.bin" {
			return nil
		}
		n++
		t.Run(rel, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), path, rel)
			if tg.Verdict != want {
				t.Fatalf("verdict %s, want %s; format %s; findings %+v; error %s", tg.Verdict, want, tg.Format, tg.Findings, tg.Error)
			}
			area := strings.Split(filepath.ToSlash(rel), "/")[0]
			ok := false
			for _, f := range formatOf[area] {
				ok = ok || tg.Format == f
			}
			if !ok {
				t.Fatalf("format %s, want one of %v", tg.Format, formatOf[area])
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d fixtures", n)
	}
}
