package hdf5

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

const treeFixtures = "../../../fixtures/formats/hdf5"

func scanner() *scan.Scanner {
	return scan.MustNew(scan.Options{Formats: []scan.Format{Format{}, pickle.Format{}}, Workers: 1})
}

func TestPyTablesAttributes(t *testing.T) {
	sc := scanner()
	tg := sc.ScanFile(context.Background(), filepath.Join(treeFixtures, "evil_tables_attr.h5"), "evil")
	if tg.Verdict != scan.VerdictDangerous {
		t.Fatalf("verdict %s: %+v %s", tg.Verdict, tg.Findings, tg.Error)
	}
	var members []string
	for _, f := range tg.Findings {
		if f.Severity == scan.SeverityCritical && f.Symbol == "posix.system" {
			members = append(members, f.Member)
		}
	}
	slices.Sort(members)
	if want := []string{"/model/layer/weights@meta", "/model/layer@meta"}; !slices.Equal(members, want) {
		t.Fatalf("critical members %q, want %q: %+v", members, want, tg.Findings)
	}

	tg = sc.ScanFile(context.Background(), filepath.Join(treeFixtures, "benign_tables_attr.h5"), "benign")
	if tg.Verdict != scan.VerdictClean {
		t.Fatalf("benign verdict %s: %+v %s", tg.Verdict, tg.Findings, tg.Error)
	}
}

func TestWalk(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(treeFixtures, "benign_tables_attr.h5"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(b), int64(len(b)), scan.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	pickled := map[string]bool{}
	err = f.Walk(func(o *Object) error {
		paths = append(paths, o.Path)
		attrs, err := f.Attributes(o)
		for _, a := range attrs {
			if a.Name == "meta" {
				pickled[o.Path] = pickledAttribute(a.Value)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/model", "/model/layer", "/model/layer/weights"}; !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	if !pickled["/model/layer"] || !pickled["/model/layer/weights"] {
		t.Fatalf("pickled attributes %v", pickled)
	}

	// The node limit is enforced.
	lim := scan.DefaultLimits
	lim.MaxEntries = 2
	f, _ = Open(bytes.NewReader(b), int64(len(b)), lim)
	n := 0
	err = f.Walk(func(*Object) error { n++; return nil })
	if !errorsIsLimit(err) || n != 2 {
		t.Fatalf("walk with 2 entries: %d objects, %v", n, err)
	}
}

func errorsIsLimit(err error) bool {
	_, ok := err.(*scan.LimitError)
	return ok
}

func TestPandasObjectColumn(t *testing.T) {
	sc := scanner()
	tg := sc.ScanFile(context.Background(), filepath.Join(treeFixtures, "evil_pandas_fixed.h5"), "evil")
	if tg.Verdict != scan.VerdictDangerous {
		t.Fatalf("verdict %s: %+v %s", tg.Verdict, tg.Findings, tg.Error)
	}
	found := false
	for _, f := range tg.Findings {
		if f.Severity == scan.SeverityCritical && f.Symbol == "posix.system" {
			found = f.Member == "/frame/block0_values[0]"
			if !found {
				t.Fatalf("member %q", f.Member)
			}
		}
	}
	if !found {
		t.Fatalf("no posix.system finding: %+v", tg.Findings)
	}
	tg = sc.ScanFile(context.Background(), filepath.Join(treeFixtures, "benign_pandas_fixed.h5"), "benign")
	if tg.Verdict != scan.VerdictClean {
		t.Fatalf("benign verdict %s: %+v %s", tg.Verdict, tg.Findings, tg.Error)
	}
}
