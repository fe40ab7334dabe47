package all_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
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
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
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

// TestPublicCorpus checks every file of picklescan's test corpus, committed
// under fixtures/picklescan with its licence, against its label.
func TestPublicCorpus(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "picklescan")
	checkVerdicts(t, dir, loadLabels(t, dir))
}

// TestContainerFixtures checks the container fixtures made by the real
// libraries (fixtures/containers/gen.py).
func TestContainerFixtures(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "containers")
	checkVerdicts(t, dir, loadLabels(t, dir))
}

// TestDirectoryLikeTheHuggingFaceCache scans a snapshot folder whose files
// are symlinks to blobs elsewhere in the cache, with a symlink loop, and
// checks that every file is scanned once, by the path the user sees.
func TestDirectoryLikeTheHuggingFaceCache(t *testing.T) {
	fixtures := filepath.Join(repoRoot(t), "fixtures", "containers")
	cache := t.TempDir()
	blobs := filepath.Join(cache, "blobs")
	snap := filepath.Join(cache, "snapshots", "0123abcd")
	for _, d := range []string{blobs, filepath.Join(snap, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(src, blob, at string) {
		b, err := os.ReadFile(filepath.Join(fixtures, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(blobs, blob), b, 0o644); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Dir(filepath.Join(snap, at)), filepath.Join(blobs, blob))
		if err := os.Symlink(rel, filepath.Join(snap, at)); err != nil {
			t.Fatal(err)
		}
	}
	link("benign/model.safetensors", "aa11", "model.safetensors")
	link("malicious/torch_zip_reduce.pt", "bb22", "sub/pytorch_model.bin")
	link("benign/joblib_gzip.joblib", "cc33", "sub/sklearn.joblib")
	if err := os.Symlink("..", filepath.Join(snap, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Workers: 2})
	targets, err := sc.ScanPaths(context.Background(), []string{snap})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scan.Verdict{}
	for _, tg := range targets {
		rel, _ := filepath.Rel(snap, tg.Path)
		got[filepath.ToSlash(rel)] = tg.Verdict
	}
	want := map[string]scan.Verdict{
		"model.safetensors":     scan.VerdictClean,
		"sub/pytorch_model.bin": scan.VerdictDangerous,
		"sub/sklearn.joblib":    scan.VerdictClean,
	}
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s: %q, want %s (all: %v)", p, got[p], v, got)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && !strings.HasPrefix(p, "sub/loop/") {
			t.Errorf("unexpected target %s", p)
		}
	}
	if len(got) > 2*len(want) {
		t.Errorf("the loop was followed: %d targets", len(got))
	}
}
