package all_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func loadLabels(t *testing.T, dir string) map[string]string {
	b, err := os.ReadFile(filepath.Join(dir, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	return labels
}

// checkVerdicts scans every labelled file of dir and checks its verdict:
// malicious files are dangerous, benign ones clean, malformed ones
// malformed, and not-a-model files anything but dangerous or clean with a
// finding at the fail-on severity.
func checkVerdicts(t *testing.T, dir string, labels map[string]string) {
	sc := scan.New(scan.Options{Formats: all.Formats()})
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		label := labels[name]
		t.Run(name, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), filepath.Join(dir, name), name)
			want := map[string][]scan.Verdict{
				"malicious":   {scan.VerdictDangerous},
				"benign":      {scan.VerdictClean},
				"malformed":   {scan.VerdictMalformed},
				"not-a-model": {scan.VerdictClean, scan.VerdictMalformed, scan.VerdictUnsupported},
			}[label]
			if want == nil {
				t.Fatalf("unknown label %q", label)
			}
			for _, v := range want {
				if tg.Verdict == v {
					return
				}
			}
			b, _ := json.MarshalIndent(tg, "", " ")
			t.Errorf("%s is %s, want %v (format %s)\n%s", name, tg.Verdict, want, tg.Format, b)
		})
	}
}

// TestPublicCorpus checks every file of the public corpus against its
// label. The corpus lives next to the checkout (../shared/corpus/public).
func TestPublicCorpus(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "..", "shared", "corpus", "public")
	if _, err := os.Stat(filepath.Join(dir, "labels.json")); err != nil {
		if os.Getenv("MODELVERIFY_INTEGRATION") == "require" {
			t.Fatalf("public corpus missing at %s", dir)
		}
		t.Skipf("public corpus not found at %s", dir)
	}
	checkVerdicts(t, dir, loadLabels(t, dir))
}

// TestContainerFixtures checks the container fixtures made by the real
// libraries (fixtures/containers/gen.py).
func TestContainerFixtures(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "containers")
	checkVerdicts(t, dir, loadLabels(t, dir))
}
