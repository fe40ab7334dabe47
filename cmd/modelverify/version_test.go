package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

func TestVersionCommandText(t *testing.T) {
	out := expectExit(t, 0, "version")
	for _, want := range []string{"modelverify ", "commit:", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, pickle.ListVersion} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersionCommandJSON(t *testing.T) {
	var v versionInfo
	if err := json.Unmarshal([]byte(expectExit(t, 0, "version", "--format", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.GoVersion != runtime.Version() || v.AllowlistVersion != pickle.ListVersion || v.Version == "" || v.Commit == "" {
		t.Errorf("version %+v", v)
	}
	expectExit(t, 3, "version", "--format", "yaml")
	expectExit(t, 3, "version", "extra")
}

// The link-time variables the Makefile sets reach the output.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "modelverify")
	ld := "-X github.com/modelverify/modelverify/internal/version.Version=v9.8.7 -X github.com/modelverify/modelverify/internal/version.Commit=abc1234"
	// The test binary's own build settings (no CGO_ENABLED or -trimpath
	// change), so every package comes from the build cache and only the
	// link runs.
	build := exec.Command("go", "build", "-ldflags", ld, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("modelverify v9.8.7")) || !bytes.Contains(out, []byte("abc1234")) {
		t.Errorf("output:\n%s", out)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_modelverify",
		"zsh":        "#compdef modelverify",
		"fish":       "complete -c modelverify",
		"powershell": "Register-ArgumentCompleter",
	} {
		out := expectExit(t, 0, "completion", shell)
		if !strings.Contains(out, marker) {
			t.Errorf("%s completion lacks %q", shell, marker)
		}
	}
	// Commands and flags complete.
	out := expectExit(t, 0, "__complete", "sc")
	if !strings.Contains(out, "scan") {
		t.Errorf("completing 'sc':\n%s", out)
	}
	out = expectExit(t, 0, "__complete", "scan", "--fail")
	if !strings.Contains(out, "--fail-on") {
		t.Errorf("completing 'scan --fail':\n%s", out)
	}
}
