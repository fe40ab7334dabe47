package integrations_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/modelverify/modelverify/internal/testutil/keyless"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

type gitlabJob struct {
	Script []string `yaml:"script"`
}

// runJob runs a job's script: lines as the GitLab runner does, in one
// shell with errexit, with the recipe's variables and the CI variables
// given. before_script (package installation, the release download, the
// Docker config from CI credentials) is the part that needs GitLab and the
// internet; the binary under test stands in for the downloaded release.
func runJob(t *testing.T, job gitlabJob, vars map[string]string, dir string) (int, string) {
	t.Helper()
	bin := filepath.Dir(binary)
	script := "set -eo pipefail\n" + strings.Join(job.Script, "\n") + "\n"
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestGitLabRecipeRuns(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	var recipe struct {
		Variables map[string]string `yaml:"variables"`
		Scan      gitlabJob         `yaml:"modelverify-scan"`
		Release   gitlabJob         `yaml:"modelverify-release"`
	}
	if err := yaml.Unmarshal(read(t, "integrations/gitlab/modelverify.gitlab-ci.yml"), &recipe); err != nil {
		t.Fatal(err)
	}
	if len(recipe.Scan.Script) == 0 || len(recipe.Release.Script) == 0 {
		t.Fatal("the recipe's jobs have no script")
	}
	stack := keyless.Start(t)
	host := registry.NewInProcess(t, true)
	project := t.TempDir()
	os.MkdirAll(filepath.Join(project, "model"), 0o755)
	os.WriteFile(filepath.Join(project, "model", "pytorch_model.bin"), read(t, "fixtures/demo/tiny-mlp/pytorch_model.bin"), 0o644)
	os.WriteFile(filepath.Join(project, "model", "config.json"), read(t, "fixtures/demo/tiny-mlp/config.json"), 0o644)
	os.MkdirAll(filepath.Join(project, ".sigstore"), 0o755)
	os.WriteFile(filepath.Join(project, ".sigstore", "trusted_root.json"), stack.TrustedRootJSON(t), 0o644)

	const path, branch = "acme/models", "main"
	vars := map[string]string{}
	// The recipe's variables, with $CI_... expanded as GitLab would.
	ci := map[string]string{
		"CI_REGISTRY_IMAGE": host + "/" + path, "CI_COMMIT_SHORT_SHA": "0123abcd",
		"CI_PROJECT_PATH": path, "CI_DEFAULT_BRANCH": branch, "CI_PROJECT_DIR": project,
	}
	ciVar := regexp.MustCompile(`\$([A-Z_]+)`)
	for k, v := range recipe.Variables {
		vars[k] = ciVar.ReplaceAllStringFunc(v, func(m string) string {
			if x, ok := ci[m[1:]]; ok {
				return x
			}
			return m
		})
	}
	for k, v := range ci {
		vars[k] = v
	}
	// Point the recipe at the local services, as a self-managed install would.
	vars["MV_REGISTRY_FLAGS"] = "--plain-http"
	vars["MV_FULCIO_URL"], vars["MV_REKOR_URL"] = stack.FulcioURL, stack.RekorURL

	if code, out := runJob(t, recipe.Scan, vars, project); code != 0 {
		t.Fatalf("modelverify-scan: exit %d\n%s", code, out)
	}
	for _, f := range []string{"modelverify.json", "modelverify.sarif", "modelverify.html"} {
		if _, err := os.Stat(filepath.Join(project, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	if page, err := os.ReadFile(filepath.Join(project, "modelverify.html")); err != nil || !strings.Contains(string(page), "Content-Security-Policy") || !strings.Contains(string(page), "pytorch_model.bin") {
		t.Errorf("modelverify.html is not the HTML report of the model folder: %v\n%.300s", err, page)
	}
	// id_tokens gives the job SIGSTORE_ID_TOKEN.
	vars["SIGSTORE_ID_TOKEN"] = stack.GitLabToken(t, path, branch)
	if code, out := runJob(t, recipe.Release, vars, project); code != 0 {
		t.Fatalf("modelverify-release: exit %d\n%s", code, out)
	}
	if stack.Issued() != 2 {
		t.Errorf("%d certificates issued, want 2 (sign and attest)", stack.Issued())
	}
	// A pipeline of another project cannot pass as this one: its
	// signatures verify, but not as acme/models.
	os.WriteFile(filepath.Join(project, "model", "config.json"), []byte(`{"from":"mallory"}`), 0o644)
	vars["SIGSTORE_ID_TOKEN"] = stack.GitLabToken(t, "mallory/models", branch)
	vars["MV_MODEL_REF"] = "oci://" + host + "/" + path + "/model:fake"
	if code, out := runJob(t, recipe.Release, vars, project); code != 1 {
		t.Fatalf("another project's identity: exit %d, want 1\n%s", code, out)
	}
	// A malicious model fails the scan job.
	os.WriteFile(filepath.Join(project, "model", "pytorch_model.bin"), read(t, "fixtures/pickle/malicious/os_system_v4.pkl"), 0o644)
	if code, out := runJob(t, recipe.Scan, vars, project); code != 1 {
		t.Fatalf("malicious model: exit %d, want 1\n%s", code, out)
	}
}
