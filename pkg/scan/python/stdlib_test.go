package python

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stdlibDir is Debian's Python 3.11 standard library, when installed.
const stdlibDir = "/usr/lib/python3.11"

// Every .py file of the standard library parses. CPython's own test data
// of deliberately broken files (lib2to3's Python 2 grammar tests, bad
// coding declarations) is left out: CPython cannot compile them either.
func TestParsesTheStandardLibrary(t *testing.T) {
	if _, err := os.Stat(stdlibDir); err != nil {
		t.Skipf("%s is not installed", stdlibDir)
	}
	n, bytes := 0, 0
	err := filepath.WalkDir(stdlibDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "site-packages" || d.Name() == "dist-packages") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".py") || notPython3(path) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		bytes += len(b)
		if _, err := Parse(string(b), Limits{}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("only %d files under %s", n, stdlibDir)
	}
	t.Logf("parsed %d files, %d bytes", n, bytes)
}

// notPython3 names files that are not Python 3 on purpose.
func notPython3(path string) bool {
	return strings.Contains(path, "/lib2to3/tests/data/") || strings.Contains(path, "/test/badsyntax_") ||
		strings.Contains(path, "/test/bad_coding")
}
