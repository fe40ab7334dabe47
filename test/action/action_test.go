// Package action_test plays the steps of the repository's GitHub Action
// (action.yml) end to end: install a pinned release from a release server,
// scan with SARIF, sign and attest keylessly with a GitHub-style OIDC token
// from a Sigstore stack on 127.0.0.1, and verify, against a local registry.
package action_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/keyless"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

const releaseVersion = "v9.9.9-actiontest"

// release builds modelverify and serves it as a GitHub release would:
// DOWNLOAD_URL/VERSION/modelverify-linux-ARCH and checksums.txt.
func release(t *testing.T) (url, binary string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), releaseVersion)
	os.MkdirAll(dir, 0o755)
	asset := "modelverify-linux-" + runtime.GOARCH
	binary = filepath.Join(dir, asset)
	build := exec.Command("go", "build", "-trimpath", "-ldflags",
		"-X github.com/modelverify/modelverify/internal/version.Version="+releaseVersion, "-o", binary, "./cmd/modelverify")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(binary)
	sum := sha256.Sum256(b)
	os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(fmt.Sprintf("%s  %s\n%s  modelverify-windows-amd64.exe\n", hex.EncodeToString(sum[:]), asset, strings.Repeat("0", 64))), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(dir))))
	t.Cleanup(srv.Close)
	return srv.URL, binary
}

func runnerArch(t *testing.T) string {
	switch runtime.GOARCH {
	case "amd64":
		return "X64"
	case "arm64":
		return "ARM64"
	}
	t.Skipf("no GitHub runner for %s", runtime.GOARCH)
	return ""
}

func registryHost(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(registry.DistributionBinary); err == nil || os.Getenv(registry.RequireEnv) == "require" {
		return registry.StartDistribution(t)
	}
	return registry.NewInProcess(t, true)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

func TestActionEndToEnd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the action's scripts are played on Linux")
	}
	for _, tool := range []string{"bash", "curl", "sha256sum", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	a := loadAction(t)
	downloadURL, binary := release(t)
	stack := keyless.Start(t)
	host := registryHost(t)
	work := t.TempDir()
	trustedRoot := filepath.Join(work, "trusted_root.json")
	os.WriteFile(trustedRoot, stack.TrustedRootJSON(t), 0o644)

	// The model, pushed as the example workflow does before calling the action.
	model := filepath.Join(work, "tiny-mlp")
	copyDir(t, filepath.Join(repoRoot, "fixtures", "demo", "tiny-mlp"), model)
	ref := "oci://" + host + "/models/tiny-mlp:v1"
	if out, err := exec.Command(binary, "push", "--quiet", "--plain-http", model, ref).CombinedOutput(); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}

	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": work, "RUNNER_OS": "Linux", "RUNNER_ARCH": runnerArch(t),
		"ACTIONS_ID_TOKEN_REQUEST_URL": stack.TokenURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": stack.RequestToken,
		"MODELVERIFY_PASSWORD": "",
	}
	r := newRunner(t, env)
	common := map[string]string{"version": releaseVersion, "download-url": downloadURL, "plain-http": "true"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	expect := func(t *testing.T, r *runner, want int, in map[string]string) map[string]map[string]string {
		t.Helper()
		code, outs := r.run(a, in)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s", in["command"], code, want, r.log.String())
		}
		return outs
	}
	identity := keyless.Identity(stack.Workflow)

	t.Run("scan writes SARIF for code scanning", func(t *testing.T) {
		sarif := filepath.Join(work, "clean.sarif")
		outs := expect(t, r, 0, with("command", "scan", "target", ref, "sarif", sarif))
		if outs["run"]["sarif"] != sarif || outs["run"]["exit-code"] != "0" {
			t.Errorf("outputs %v", outs["run"])
		}
		checkSARIF(t, sarif, 0)
		if len(r.skipped) != 2 || !strings.HasPrefix(r.skipped[0], "github/codeql-action/upload-sarif@") ||
			!strings.HasPrefix(r.skipped[1], "actions/upload-artifact@") {
			t.Errorf("uses: steps %v", r.skipped)
		}
		if outs["run"]["html"] != "" {
			t.Errorf("an HTML report without the html input: %v", outs["run"])
		}
		if !strings.Contains(r.log.String(), "modelverify "+releaseVersion) {
			t.Errorf("the installed release did not run:\n%s", r.log.String())
		}
	})
	t.Run("verify fails before the model is signed", func(t *testing.T) {
		expect(t, r, 1, with("command", "verify", "target", ref, "trusted-root", trustedRoot, "certificate-identity", identity))
	})
	t.Run("sign keyless with the workflow's OIDC token", func(t *testing.T) {
		expect(t, r, 0, with("command", "sign", "target", ref, "fulcio-url", stack.FulcioURL, "rekor-url", stack.RekorURL, "trusted-root", trustedRoot))
		if stack.Issued() != 1 {
			t.Errorf("%d certificates issued", stack.Issued())
		}
	})
	t.Run("attest the scan keyless", func(t *testing.T) {
		sarif := filepath.Join(work, "attest.sarif")
		expect(t, r, 0, with("command", "attest", "target", ref, "sarif", sarif, "fulcio-url", stack.FulcioURL, "rekor-url", stack.RekorURL))
		checkSARIF(t, sarif, 0)
	})
	t.Run("verify the signer and the clean scan", func(t *testing.T) {
		expect(t, r, 0, with("command", "verify", "target", ref, "trusted-root", trustedRoot, "certificate-identity", identity, "require-scan", "high"))
		expect(t, r, 0, with("command", "verify", "target", ref, "trusted-root", trustedRoot,
			"certificate-identity-regexp", `^https://github\.com/example/models/\.github/workflows/`))
	})
	t.Run("verify refuses another workflow and another issuer", func(t *testing.T) {
		expect(t, r, 1, with("command", "verify", "target", ref, "trusted-root", trustedRoot,
			"certificate-identity", keyless.Identity("example/models/.github/workflows/other.yml@refs/heads/main")))
		expect(t, r, 1, with("command", "verify", "target", ref, "trusted-root", trustedRoot,
			"certificate-identity", identity, "certificate-oidc-issuer", "https://accounts.google.com"))
	})
	t.Run("scan of a malicious model fails with findings in SARIF", func(t *testing.T) {
		bad := filepath.Join(work, "bad")
		os.MkdirAll(bad, 0o755)
		copyDir(t, filepath.Join(repoRoot, "fixtures", "pickle", "malicious", "os_system_v4.pkl"), filepath.Join(bad, "model.pkl"))
		sarif := filepath.Join(work, "bad.sarif")
		outs := expect(t, r, 1, with("command", "scan", "target", bad, "sarif", sarif))
		if outs["run"]["exit-code"] != "1" || outs["run"]["sarif"] != sarif {
			t.Errorf("outputs %v", outs["run"])
		}
		checkSARIF(t, sarif, 1)
	})
	t.Run("scan writes the HTML report beside SARIF for the job artifact", func(t *testing.T) {
		bad := filepath.Join(work, "bad-html")
		os.MkdirAll(bad, 0o755)
		copyDir(t, filepath.Join(repoRoot, "fixtures", "pickle", "malicious", "os_system_v4.pkl"), filepath.Join(bad, "model.pkl"))
		sarif, page := filepath.Join(work, "report.sarif"), filepath.Join(work, "report.html")
		outs := expect(t, r, 1, with("command", "scan", "target", bad, "sarif", sarif, "html", page))
		if outs["run"]["html"] != page || outs["run"]["sarif"] != sarif {
			t.Errorf("outputs %v", outs["run"])
		}
		checkSARIF(t, sarif, 1)
		b, err := os.ReadFile(page)
		if err != nil || !strings.Contains(string(b), "Content-Security-Policy") || !strings.Contains(string(b), "posix.system") {
			t.Errorf("HTML report: %v %.200s", err, b)
		}
	})
	t.Run("keyless signing without id-token permission is a configuration error", func(t *testing.T) {
		noToken := map[string]string{}
		for k, v := range env {
			noToken[k] = v
		}
		delete(noToken, "ACTIONS_ID_TOKEN_REQUEST_URL")
		delete(noToken, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		r2 := newRunner(t, noToken)
		expect(t, r2, 3, with("command", "sign", "target", ref, "fulcio-url", stack.FulcioURL, "rekor-url", stack.RekorURL))
		if !strings.Contains(r2.log.String(), "id-token: write") {
			t.Errorf("no hint about the permission:\n%s", r2.log.String())
		}
	})
	t.Run("signing with a key, verifying with its public key", func(t *testing.T) {
		keys := filepath.Join(work, "release")
		if out, err := exec.Command(binary, "keygen", "--output-key-prefix", keys).CombinedOutput(); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
		dir := filepath.Join(work, "folder-model")
		copyDir(t, model, dir)
		expect(t, r, 0, with("command", "sign", "target", dir, "key", keys+".key"))
		expect(t, r, 0, with("command", "verify", "target", dir, "public-key", keys+".pub"))
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
		expect(t, r, 1, with("command", "verify", "target", dir, "public-key", keys+".pub"))
	})
	t.Run("an unknown command is a usage error", func(t *testing.T) {
		expect(t, r, 3, with("command", "publish", "target", ref))
	})
	t.Run("a binary that does not match the release checksums is refused", func(t *testing.T) {
		r3 := newRunner(t, env) // fresh runner temp: nothing installed yet
		code, _ := r3.run(a, with("command", "scan", "target", ref, "sha256", strings.Repeat("ab", 32)))
		if code == 0 || !strings.Contains(r3.log.String(), "is not the pinned") {
			t.Fatalf("exit %d\n%s", code, r3.log.String())
		}
		os.WriteFile(binary, []byte("#!/bin/sh\necho owned\n"), 0o755)
		r4 := newRunner(t, env)
		code, _ = r4.run(a, with("command", "scan", "target", ref))
		if code == 0 || !strings.Contains(r4.log.String(), "does not match checksums.txt") {
			t.Fatalf("a tampered release was installed: exit %d\n%s", code, r4.log.String())
		}
	})
}

func checkSARIF(t *testing.T, path string, minResults int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name string `json:"name"`
				} `json:"driver"`
			} `json:"tool"`
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != "2.1.0" || len(s.Runs) != 1 || s.Runs[0].Tool.Driver.Name != "modelverify" {
		t.Fatalf("not a modelverify SARIF 2.1.0 log: %.300s", b)
	}
	if n := len(s.Runs[0].Results); (minResults == 0 && n != 0) || n < minResults {
		t.Errorf("%d results, want %d or more", n, minResults)
	}
}
