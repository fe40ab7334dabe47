package all_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

// notClean says why a target of a benign model is not a clean scan: a
// verdict other than clean, or any finding above info. "" when it is clean.
func notClean(tg scan.Target) string {
	var why []string
	if tg.Verdict != scan.VerdictClean {
		why = append(why, fmt.Sprintf("verdict %s (format %s) %s", tg.Verdict, tg.Format, tg.Error))
	}
	for _, f := range tg.Findings {
		if f.Severity > scan.SeverityInfo {
			why = append(why, fmt.Sprintf("%s %s %s", f.Severity, f.RuleID, f.Symbol))
		}
	}
	return strings.Join(why, "; ")
}

// TestBenignCorpusScansClean scans fixtures/benign-corpus, a subset of the
// models scripts/benign-corpus.py makes with the real libraries (scikit-learn,
// torchvision, torch.nn, optimizers, schedulers, pandas, SciPy, XGBoost,
// ONNX, HDF5, HDFStore): every file must be clean, without a finding above
// info.
func TestBenignCorpusScansClean(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "benign-corpus")
	var files []string
	kinds := map[string]int{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
			rel, _ := filepath.Rel(dir, p)
			kinds[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]]++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, k := range []string{"sklearn", "sklearn-composed", "torchvision", "torchvision-helpers", "torch-nn", "torch-optim",
		"torch-sched", "pandas", "scipy", "xgboost", "onnx", "hdf5", "hdfstore"} {
		if kinds[k] == 0 {
			t.Errorf("no %s files in %s", k, dir)
		}
	}
	if len(files) < 100 {
		t.Fatalf("%d files in %s, want the committed subset", len(files), dir)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		tg := sc.ScanFile(context.Background(), p, rel)
		if why := notClean(tg); why != "" {
			t.Errorf("%s: %s", rel, why)
		}
	}
}

// TestNotCleanFlagsWhatIsNotClean keeps the check above honest: a malicious
// pickle and a file cut short are reported by it.
func TestNotCleanFlagsWhatIsNotClean(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	evil := filepath.Join(repoRoot(t), "fixtures", "containers", "malicious", "torch_zip_reduce.pt")
	if why := notClean(sc.ScanFile(context.Background(), evil, "evil.pt")); why == "" {
		t.Error("a malicious model passes as clean")
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "fixtures", "benign-corpus", "xgboost", "XGBClassifier.ubj"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.ubj")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if why := notClean(sc.ScanFile(context.Background(), cut, "cut.ubj")); why == "" {
		t.Error("a truncated model passes as clean")
	}
}
