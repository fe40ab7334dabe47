package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed command reference is what the command tree generates:
// regenerate it with `make docs` after changing a command or a flag.
func TestCLIReferenceIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "cli")
	pages := cliPages(newRootCmd())
	for _, must := range []string{"modelverify.md", "modelverify_scan.md", "modelverify_version.md", "modelverify_completion_bash.md", "README.md"} {
		if _, ok := pages[must]; !ok {
			t.Errorf("no page %s", must)
		}
	}
	if _, ok := pages["modelverify_gendocs.md"]; ok {
		t.Error("the hidden gendocs command has a page")
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run make docs)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/cli/%s is out of date: run make docs", name)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range files {
		if _, ok := pages[filepath.Base(f)]; !ok {
			t.Errorf("docs/cli/%s documents no command: remove it", filepath.Base(f))
		}
	}
}

func TestGendocsWritesPages(t *testing.T) {
	dir := t.TempDir()
	expectExit(t, 0, "gendocs", dir)
	b, err := os.ReadFile(filepath.Join(dir, "modelverify_sign.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# modelverify sign", "--key", "--identity-token", "See also"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sign page lacks %q", want)
		}
	}
	help := expectExit(t, 0, "--help")
	if strings.Contains(help, "gendocs") {
		t.Error("gendocs is listed in --help")
	}
}
