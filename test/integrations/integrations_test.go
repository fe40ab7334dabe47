// Package integrations_test checks the copy-paste recipes for other
// pipelines (GitLab CI, Tekton, pre-commit), the release workflow and the
// example workflow in docs/ against the real command tree and action.yml,
// and runs the pre-commit hook on a repository with staged model files.
package integrations_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mv-integrations")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "modelverify")
	build := exec.Command("go", "build", "-o", binary, "./cmd/modelverify")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// words splits a shell command line into words, dropping quotes; variables
// stay as they are (they stand for one argument each).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	quote := rune(0)
	in := false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

var invocation = regexp.MustCompile(`(?:^|[\s;&|(])(?:\./dist/modelverify-linux-amd64|/usr/local/bin/modelverify|modelverify)\s+([a-z][^\n;&|]*)`)

// commandLines finds modelverify invocations in shell text, up to the end
// of the line or the next shell operator.
func commandLines(text string) [][]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	text = strings.Join(lines, "\n")
	var out [][]string
	for _, m := range invocation.FindAllStringSubmatch(text, -1) {
		w := words(m[1])
		if len(w) == 0 || !subcommands()[w[0]] {
			continue // prose that mentions modelverify
		}
		for i, x := range w {
			if strings.HasPrefix(x, "||") || x == ">" || x == "2>/dev/null" || x == "|" {
				w = w[:i]
				break
			}
		}
		out = append(out, w)
	}
	return out
}

var subcommandSet map[string]bool

// subcommands are the commands of the binary, as shell completion lists
// them.
func subcommands() map[string]bool {
	if subcommandSet == nil {
		subcommandSet = map[string]bool{}
		out, err := exec.Command(binary, "__complete", "").Output()
		if err != nil {
			panic(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if name, _, ok := strings.Cut(l, "\t"); ok && !strings.HasPrefix(name, ":") {
				subcommandSet[name] = true
			}
		}
	}
	return subcommandSet
}

// checkFlags runs `modelverify ARGS --help`: cobra rejects an unknown
// command or flag before it prints help, so exit 0 means every flag exists.
func checkFlags(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		return
	}
	out, err := exec.Command(binary, append(args, "--help")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage:") {
		t.Errorf("%s: modelverify %s: %v\n%s", where, strings.Join(args, " "), err, out)
	}
}

func TestRecipesUseRealCommandsAndFlags(t *testing.T) {
	n := 0
	// GitLab CI: script lines.
	var gl map[string]any
	if err := yaml.Unmarshal(read(t, "integrations/gitlab/modelverify.gitlab-ci.yml"), &gl); err != nil {
		t.Fatal(err)
	}
	for job, v := range gl {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for _, key := range []string{"before_script", "script"} {
			lines, _ := m[key].([]any)
			for _, l := range lines {
				for _, args := range commandLines(l.(string)) {
					checkFlags(t, "gitlab "+job, args)
					n++
				}
			}
		}
	}
	// Tekton: command + args of each step.
	for _, doc := range yamlDocs(t, "integrations/tekton/modelverify-tasks.yaml") {
		var task struct {
			Kind     string `yaml:"kind"`
			Metadata struct{ Name string }
			Spec     struct {
				Steps []struct {
					Image   string   `yaml:"image"`
					Command []string `yaml:"command"`
					Args    []string `yaml:"args"`
				} `yaml:"steps"`
			} `yaml:"spec"`
		}
		if err := doc.Decode(&task); err != nil {
			t.Fatal(err)
		}
		if task.Kind != "Task" || len(task.Spec.Steps) == 0 {
			t.Fatalf("tekton: %+v", task)
		}
		for _, s := range task.Spec.Steps {
			if len(s.Command) != 1 || s.Command[0] != "/usr/local/bin/modelverify" {
				t.Errorf("tekton %s: command %v (the image has no shell)", task.Metadata.Name, s.Command)
			}
			checkFlags(t, "tekton "+task.Metadata.Name, s.Args)
			n++
		}
	}
	// Workflows: run: scripts.
	for _, f := range []string{".github/workflows/release.yml", "docs/examples/model-release.yml"} {
		for _, args := range commandLines(string(read(t, f))) {
			checkFlags(t, f, args)
			n++
		}
	}
	// The pages that show commands without running them.
	for _, f := range []string{"docs/pipelines.md", "docs/production.md", "docs/policy.md", "docs/threat-model.md"} {
		for _, block := range shellBlocks(string(read(t, f))) {
			for _, args := range commandLines(block) {
				checkFlags(t, f, args)
				n++
			}
		}
	}
	if n < 15 {
		t.Errorf("only %d modelverify invocations found", n)
	}
}

// shellBlocks returns the bodies of ```sh and ```yaml code blocks.
func shellBlocks(md string) []string {
	var out []string
	re := regexp.MustCompile("(?s)```(?:sh|bash|yaml)[^\n]*\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

func yamlDocs(t *testing.T, rel string) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(read(t, rel))))
	var out []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			break
		}
		out = append(out, &n)
	}
	return out
}

var digestRef = regexp.MustCompile(`ghcr\.io/modelverify/modelverify@sha256:[0-9a-f]{64}`)

// Tekton runs the image that deploy/ runs, by digest; make image-pin
// updates both.
func TestTektonPinsTheDeployedImage(t *testing.T) {
	deploy := digestRef.FindString(string(read(t, "deploy/kubernetes/deployment.yaml")))
	if deploy == "" {
		t.Fatal("deployment.yaml has no digest reference")
	}
	tekton := string(read(t, "integrations/tekton/modelverify-tasks.yaml"))
	imgs := regexp.MustCompile(`image:\s*(\S+)`).FindAllStringSubmatch(tekton, -1)
	if len(imgs) == 0 {
		t.Fatal("no image in the Tekton tasks")
	}
	for _, m := range imgs {
		if m[1] != deploy {
			t.Errorf("tekton image %s, deploy/ runs %s", m[1], deploy)
		}
	}
}

func TestExampleWorkflowUsesTheActionsInputs(t *testing.T) {
	var action struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(read(t, "action.yml"), &action); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"docs/examples/model-release.yml"} {
		var wf struct {
			Jobs map[string]struct {
				Permissions map[string]string `yaml:"permissions"`
				Steps       []struct {
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(read(t, f), &wf); err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for job, j := range wf.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "modelverify/modelverify@") {
					continue
				}
				for k := range s.With {
					if _, ok := action.Inputs[k]; !ok {
						t.Errorf("%s %s: action.yml has no input %q", f, job, k)
					}
				}
				for k, in := range action.Inputs {
					if in.Required && s.With[k] == "" {
						t.Errorf("%s %s: required input %q missing", f, job, k)
					}
				}
				cmd := s.With["command"]
				used[cmd] = true
				if (cmd == "sign" || cmd == "attest") && s.With["key"] == "" && j.Permissions["id-token"] != "write" {
					t.Errorf("%s %s: keyless %s without id-token: write", f, job, cmd)
				}
			}
		}
		for _, c := range []string{"scan", "sign", "attest", "verify"} {
			if !used[c] {
				t.Errorf("%s does not show %s", f, c)
			}
		}
	}
}

func TestReleaseWorkflow(t *testing.T) {
	var wf struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Permissions map[string]string `yaml:"permissions"`
			Steps       []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(read(t, ".github/workflows/release.yml"), &wf); err != nil {
		t.Fatal(err)
	}
	j, ok := wf.Jobs["release"]
	if !ok || j.Permissions["id-token"] != "write" || j.Permissions["contents"] != "write" {
		t.Fatalf("release job permissions %v", j.Permissions)
	}
	var all strings.Builder
	for _, s := range j.Steps {
		all.WriteString(s.Run + "\n")
	}
	for _, want := range []string{"linux/arm64", "sha256sum", "cyclonedx-gomod", "make image", " sign ", "gh release create"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the release job does not %q", want)
		}
	}
	// The asset names are the ones the action's installer downloads.
	install := string(read(t, "integrations/install.sh"))
	if !strings.Contains(install, `asset="modelverify-${os}-${arch}"`) || !strings.Contains(all.String(), `dist/modelverify-${os}-${arch}${ext}`) {
		t.Error("release asset names and install.sh disagree")
	}
}

func TestPreCommitHooks(t *testing.T) {
	var hooks []struct {
		ID       string `yaml:"id"`
		Entry    string `yaml:"entry"`
		Language string `yaml:"language"`
		Files    string `yaml:"files"`
	}
	if err := yaml.Unmarshal(read(t, ".pre-commit-hooks.yaml"), &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) == 0 {
		t.Fatal("no hooks")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	for _, h := range hooks {
		t.Run(h.ID, func(t *testing.T) {
			files := regexp.MustCompile(h.Files)
			entry := words(h.Entry)
			if entry[0] != "modelverify" {
				t.Fatalf("entry %q", h.Entry)
			}
			repo := t.TempDir()
			git := func(args ...string) string {
				cmd := exec.Command("git", args...)
				cmd.Dir = repo
				cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			git("init", "-q")
			cp := func(src, dst string) {
				b := read(t, src)
				os.MkdirAll(filepath.Dir(filepath.Join(repo, dst)), 0o755)
				os.WriteFile(filepath.Join(repo, dst), b, 0o644)
			}
			cp("fixtures/demo/tiny-mlp/pytorch_model.bin", "models/good/pytorch_model.bin")
			cp("fixtures/demo/tiny-mlp/config.json", "models/good/config.json")
			cp("README.md", "README.md")
			// pre-commit hands the staged files that match `files` to the entry.
			run := func() (int, string) {
				var staged []string
				for _, f := range strings.Fields(git("diff", "--cached", "--name-only")) {
					if files.MatchString(f) {
						staged = append(staged, f)
					}
				}
				if len(staged) == 0 {
					return 0, "(no files)"
				}
				cmd := exec.Command(binary, append(entry[1:], staged...)...)
				cmd.Dir = repo
				out, err := cmd.CombinedOutput()
				if ee, ok := err.(*exec.ExitError); ok {
					return ee.ExitCode(), string(out)
				}
				if err != nil {
					t.Fatal(err)
				}
				return 0, string(out)
			}
			git("add", ".")
			if code, out := run(); code != 0 || !strings.Contains(out, "1 clean") {
				t.Fatalf("clean model: exit %d\n%s", code, out)
			}
			git("commit", "-qm", "good model")
			// A pickle named .bin, as malicious uploads are.
			cp("fixtures/pickle/malicious/os_system_v4.pkl", "models/evil/pytorch_model.bin")
			git("add", ".")
			code, out := run()
			if code != 1 || !strings.Contains(out, "models/evil/pytorch_model.bin") {
				t.Fatalf("malicious model: exit %d, want 1\n%s", code, out)
			}
			if strings.Contains(out, "models/good/") {
				t.Errorf("a file that was not staged was scanned:\n%s", out)
			}
		})
	}
}
