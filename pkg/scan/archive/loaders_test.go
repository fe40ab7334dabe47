package archive_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

// zipLoaderFixtures returns fixtures/zip/loaded.json: for each zip mutant
// written by scripts/zip-differential.py, the dangerous globals that the
// real torch.load or np.load resolved when it read the file.
func zipLoaderFixtures(t testing.TB) (string, map[string][]string) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "fixtures", "zip")
	b, err := os.ReadFile(filepath.Join(dir, "loaded.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// TestZipMembersThatLoadersReadAreReported checks every mutated torch.save
// and np.savez file: each global that the real loader resolved is reported
// as dangerous, whichever end record, zip64 record or directory the loader
// followed.
func TestZipMembersThatLoadersReadAreReported(t *testing.T) {
	dir, loaded := zipLoaderFixtures(t)
	names := make([]string, 0, len(loaded))
	for n := range loaded {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 20 {
		t.Fatalf("only %d zip fixtures", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			tg := scanBytes(t, b, scan.Limits{})
			for _, g := range loaded[name] {
				found := false
				for _, f := range tg.Findings {
					if f.Severity >= scan.SeverityHigh && strings.Contains(f.Message, g) {
						found = true
					}
				}
				if !found {
					t.Errorf("the loader resolved %s, the scan did not report it: %s %+v", g, tg.Verdict, tg.Findings)
				}
			}
			// Every mutant carries a payload for some reader, even those
			// the two loaders here reject.
			if tg.Verdict != scan.VerdictDangerous && tg.Verdict != scan.VerdictMalformed {
				t.Errorf("verdict %s: %+v", tg.Verdict, tg.Findings)
			}
		})
	}
}
