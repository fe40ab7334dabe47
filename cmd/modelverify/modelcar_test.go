package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/modelcar"
)

func TestModelcarScanAndPullCommands(t *testing.T) {
	evil, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "containers", "malicious", "torch_zip_reduce.pt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	modelcar.WriteLayout(t, dir, "v1", modelcar.Standard(t, true, evil))
	ref := "oci-layout://" + dir + ":v1"

	out, stderr, code := runCLI(t, "scan", "--format", "json", ref)
	if code != 1 || !strings.Contains(out, "models/extra/evil.pkl") || !strings.Contains(stderr, "note:") {
		t.Fatalf("scan of a modelcar with a malicious file: exit %d, stdout %s, stderr %s", code, out, stderr)
	}

	dst := filepath.Join(t.TempDir(), "model")
	if _, stderr, code := runCLI(t, "pull", "-q", "--path", "/models", ref, dst); code != 0 {
		t.Fatalf("pull --path /models: exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "model.safetensors")); err != nil || string(b) != "weights v2" {
		t.Fatalf("model.safetensors after pull: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "old.pt")); err == nil {
		t.Fatal("a whited-out file was pulled")
	}
}
