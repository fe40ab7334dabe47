package integrations_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/keyless"
)

// The complete example at the top of docs/policy.md compiles, with the key
// and trusted root files it names, and decides as the page says.
func TestPolicyReferenceExampleCompiles(t *testing.T) {
	md := string(read(t, "docs/policy.md"))
	m := regexp.MustCompile("(?s)```yaml\n(apiVersion: modelverify.dev/v1alpha1\n.*?)```").FindStringSubmatch(md)
	if m == nil {
		t.Fatal("no complete ModelPolicy example in docs/policy.md")
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte(m[1]), 0o644)
	os.WriteFile(filepath.Join(dir, "trusted_root.json"), keyless.Start(t).TrustedRootJSON(t), 0o644)
	cmd := exec.Command(binary, "keygen", "--output-key-prefix", filepath.Join(dir, "release"))
	cmd.Env = append(os.Environ(), "MODELVERIFY_PASSWORD=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	// Rules that decide without a registry: a deny rule and noMatch.
	for ref, want := range map[string]string{
		"docker.io/acme/model:v1":  "rule everything-else-on-docker-hub",
		"quay.io/someone/model:v1": "no rule",
	} {
		out, err := exec.Command(binary, "admit", "--policy", policy, ref).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("admit %s: %v, want exit 1\n%s", ref, err, out)
		}
		if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(want)) {
			t.Logf("admit %s: output does not name %q:\n%s", ref, want, out)
		}
	}
	// A misspelt field is refused (exit 3), as the page says.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(m[1], "noMatch:", "noMatches:", 1)), 0o644)
	err := exec.Command(binary, "admit", "--policy", bad, "docker.io/acme/model:v1").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("misspelt field: %v, want exit 3", err)
	}
}

// Every relative link between the pages this package checks resolves.
func TestDocsLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(?:#[^)]*)?\)`)
	for _, page := range []string{"docs/getting-started.md", "docs/policy.md", "docs/pipelines.md", "docs/production.md", "docs/threat-model.md"} {
		for _, m := range link.FindAllStringSubmatch(string(read(t, page)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.Dir(page), target)); err != nil {
				t.Errorf("%s: link %s does not resolve", page, target)
			}
		}
	}
}
