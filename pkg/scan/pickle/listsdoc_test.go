package pickle

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files")

// The documented lists must be the lists the scanner uses.
func TestListsDocIsUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := writeListsMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "docs", "scanner-lists.md")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/scan/pickle -run TestListsDoc -update)", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("docs/scanner-lists.md is stale: run go test ./pkg/scan/pickle -run TestListsDoc -update")
	}
}
