package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

// runCLI runs the CLI with args and returns stdout, stderr and the exit code
// the process would have.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	if err != nil && !isSilent(err) {
		stderr.WriteString(describe(err))
	}
	return stdout.String(), stderr.String(), exitCode(err)
}

func TestUsageErrorsExit3(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	if _, errOut, code := runCLI(t, "keygen", "--output-key-prefix", prefix); code != 0 {
		t.Fatalf("keygen: exit %d %s", code, errOut)
	}
	pub, _ := os.ReadFile(prefix + ".pub")
	// Only the public key left: keygen must not write a private key that
	// does not match it.
	os.Remove(prefix + ".key")
	_, errOut, code := runCLI(t, "keygen", "--output-key-prefix", prefix)
	if code != 3 || !strings.Contains(errOut, "k.pub already exists (use --force to overwrite)") {
		t.Errorf("keygen onto an existing file: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(prefix + ".key"); err == nil {
		t.Error("a private key was written beside the old public key")
	}
	if now, _ := os.ReadFile(prefix + ".pub"); !bytes.Equal(now, pub) {
		t.Error("the public key changed")
	}
	if _, errOut, code := runCLI(t, "keygen", "--force", "--output-key-prefix", prefix); code != 0 {
		t.Errorf("keygen --force: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "bogus"); code != 3 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Errorf("unknown command: exit %d %q", code, errOut)
	}
}

func TestPlainHTTPRegistryGetsAHint(t *testing.T) {
	host := registry.NewInProcess(t, true)
	for _, args := range [][]string{
		{"inspect", "oci://" + host + "/models/x:v1"},
		{"pull", "oci://" + host + "/models/x:v1", t.TempDir()},
		{"scan", "oci://" + host + "/models/x:v1"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, "add --plain-http") {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
}

// A registry reference typed without oci:// works wherever a target may be
// a path or a reference; an existing path stays a path.
func TestBareReferences(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	release := kube.NewSigner(t, dir, "release")
	digest := kube.Publish(t, host, "models/bare", "v1", kube.Model{Files: map[string][]byte{"model.pkl": kube.BenignPickle}, SignedBy: release})
	for _, args := range [][]string{
		{"verify", "--plain-http", "--key", release.PubPath, host + "/models/bare:v1"},
		{"verify", "--plain-http", "--key", release.PubPath, host + "/models/bare@" + digest},
		{"scan", "--plain-http", host + "/models/bare:v1"},
		{"inspect", "--plain-http", host + "/models/bare:v1"},
	} {
		if out, errOut, code := runCLI(t, args...); code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// A folder whose name looks like host:port/repo is scanned as a folder.
	local := filepath.Join(dir, "localhost:5000", "m")
	os.MkdirAll(local, 0o755)
	os.WriteFile(filepath.Join(local, "model.pkl"), kube.BenignPickle, 0o644)
	t.Chdir(dir)
	if out, errOut, code := runCLI(t, "scan", "--format", "json", "localhost:5000/m"); code != 0 || !strings.Contains(out, `"clean": 1`) {
		t.Errorf("scan of a local folder named like a reference: exit %d\n%s%s", code, out, errOut)
	}
}

// verify's scan requirement is off unless given, and its help says so.
func TestVerifyHelpShowsNoScanDefault(t *testing.T) {
	out, _, code := runCLI(t, "verify", "--help")
	if code != 0 || !strings.Contains(out, "off unless given") || strings.Contains(out, `this severity (default "high")`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
	out, _, _ = runCLI(t, "scan", "--help")
	if !strings.Contains(out, "info (every finding)") {
		t.Errorf("scan --help does not list info for --fail-on:\n%s", out)
	}
}

// push and pull print JSON for scripts: the pinned reference, the digest
// and the files.
func TestPushPullJSON(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.pkl"), kube.BenignPickle, 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"a":1}`), 0o644)
	var pushed, pulled transferred
	out, errOut, code := runCLI(t, "push", "--plain-http", "-q", "--format", "json", dir, "oci://"+host+"/models/j:v1")
	if code != 0 || json.Unmarshal([]byte(out), &pushed) != nil {
		t.Fatalf("push: exit %d %s%s", code, out, errOut)
	}
	if !strings.HasPrefix(pushed.Digest, "sha256:") || pushed.Reference != "oci://"+host+"/models/j:v1@"+pushed.Digest || len(pushed.Files) != 2 || pushed.Files[0].Path != "config.json" {
		t.Errorf("push JSON %+v", pushed)
	}
	out, errOut, code = runCLI(t, "pull", "--plain-http", "-q", "--format", "json", host+"/models/j:v1", t.TempDir())
	if code != 0 || json.Unmarshal([]byte(out), &pulled) != nil {
		t.Fatalf("pull: exit %d %s%s", code, out, errOut)
	}
	if pulled.Digest != pushed.Digest || fmt.Sprint(pulled.Files) != fmt.Sprint(pushed.Files) {
		t.Errorf("pull JSON %+v, push %+v", pulled, pushed)
	}
	if _, _, code := runCLI(t, "push", "--format", "yaml", dir, "oci://"+host+"/models/j:v1"); code != 3 {
		t.Errorf("push --format yaml: exit %d, want 3", code)
	}
}

// sign says what it pushed: both referrers of an OCI model, as text and JSON.
func TestSignPrintsBothReferrers(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	keys := filepath.Join(dir, "k")
	t.Setenv("MODELVERIFY_PASSWORD", "")
	if _, errOut, code := runCLI(t, "keygen", "--output-key-prefix", keys); code != 0 {
		t.Fatal(errOut)
	}
	model := filepath.Join(dir, "m")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "model.pkl"), kube.BenignPickle, 0o644)
	ref := "oci://" + host + "/models/s:v1"
	if _, errOut, code := runCLI(t, "push", "--plain-http", "-q", model, ref); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := runCLI(t, "sign", "--plain-http", "--key", keys+".key", "--format", "json", ref)
	var s signed
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("sign: exit %d %s%s", code, out, errOut)
	}
	if s.Referrers == nil || !strings.HasPrefix(s.Referrers.OMS, "sha256:") || !strings.HasPrefix(s.Referrers.Manifest, "sha256:") || s.Referrers.OMS == s.Referrers.Manifest || s.Resources != 1 {
		t.Errorf("sign JSON %+v", s)
	}
	out, _, code = runCLI(t, "sign", "--plain-http", "--key", keys+".key", ref)
	if code != 0 || !strings.Contains(out, "(OMS statement)") || !strings.Contains(out, "(manifest digest)") {
		t.Errorf("sign text: exit %d %s", code, out)
	}
	if _, errOut, code := runCLI(t, "verify", "--plain-http", "--key", keys+".pub", ref); code != 0 {
		t.Errorf("verify: exit %d %s", code, errOut)
	}
	out, _, code = runCLI(t, "sign", "--key", keys+".key", "--format", "json", model)
	var f signed
	if code != 0 || json.Unmarshal([]byte(out), &f) != nil || f.Signature != filepath.Join(model, "model.sig") || f.Referrers != nil {
		t.Errorf("sign folder JSON: exit %d %s", code, out)
	}
}
