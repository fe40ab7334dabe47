package action_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionFile is action.yml as GitHub reads the parts this runner plays.
type actionFile struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []step `yaml:"steps"`
	} `yaml:"runs"`
}

type step struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	Env   map[string]string `yaml:"env"`
	With  map[string]string `yaml:"with"`
}

func loadAction(t *testing.T) actionFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// runner plays a composite action's shell steps the way the Actions runner
// does: each run: script goes to `bash --noprofile --norc -eo pipefail`,
// with the step's env (its ${{ }} expressions resolved), and the
// GITHUB_OUTPUT, GITHUB_ENV and GITHUB_PATH files are honoured between
// steps. uses: steps are recorded, not run (they call other actions).
type runner struct {
	t       *testing.T
	dir     string            // runner temp
	env     map[string]string // the job's environment
	path    []string          // prepended by GITHUB_PATH
	skipped []string          // uses: steps
	log     strings.Builder
}

func newRunner(t *testing.T, env map[string]string) *runner {
	r := &runner{t: t, dir: t.TempDir(), env: map[string]string{}}
	for k, v := range env {
		r.env[k] = v
	}
	return r
}

var exprRE = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// expand resolves the expressions the action may use in env: and with:
// values; any other expression fails the test, so that the action cannot
// grow logic this runner would silently skip.
func (r *runner) expand(s string, inputs map[string]string, outputs map[string]map[string]string) string {
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRE.FindStringSubmatch(m)[1]
		switch {
		case strings.HasPrefix(e, "inputs."):
			v, ok := inputs[strings.TrimPrefix(e, "inputs.")]
			if !ok {
				r.t.Fatalf("action.yml uses undeclared %s", e)
			}
			return v
		case e == "runner.temp":
			return r.dir
		case e == "github.action_path":
			return repoRoot
		case strings.HasPrefix(e, "steps."):
			parts := strings.Split(e, ".")
			if len(parts) != 4 || parts[2] != "outputs" {
				r.t.Fatalf("unsupported expression %q", e)
			}
			return outputs[parts[1]][parts[3]]
		}
		r.t.Fatalf("unsupported expression %q in action.yml", e)
		return ""
	})
}

// run plays the action with the given inputs and returns the exit code of
// the first failing step (0 when all pass) and the outputs of the steps.
func (r *runner) run(a actionFile, with map[string]string) (int, map[string]map[string]string) {
	t := r.t
	t.Helper()
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q", a.Runs.Using)
	}
	inputs := map[string]string{}
	for name, in := range a.Inputs {
		inputs[name] = in.Default
	}
	for k, v := range with {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("no input %q", k)
		}
		inputs[k] = v
	}
	for name, in := range a.Inputs {
		if in.Required && inputs[name] == "" {
			t.Fatalf("required input %s missing", name)
		}
	}
	outputs := map[string]map[string]string{}
	r.skipped = nil
	for i, s := range a.Runs.Steps {
		if s.Uses != "" {
			r.skipped = append(r.skipped, s.Uses)
			continue
		}
		if s.If != "" {
			t.Fatalf("step %q: run: steps must not have if: (put conditions in the script)", s.Name)
		}
		if s.Shell != "bash" {
			t.Fatalf("step %q: shell %q, want bash", s.Name, s.Shell)
		}
		if exprRE.MatchString(s.Run) {
			t.Fatalf("step %q: ${{ }} inside a script allows injection; pass it through env:", s.Name)
		}
		files := map[string]string{}
		for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"} {
			files[f] = filepath.Join(r.dir, fmt.Sprintf("%s_%d", strings.ToLower(f), i))
			os.WriteFile(files[f], nil, 0o644)
		}
		script := filepath.Join(r.dir, fmt.Sprintf("step_%d.sh", i))
		os.WriteFile(script, []byte(s.Run), 0o644)
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		env := map[string]string{}
		for k, v := range r.env {
			env[k] = v
		}
		for k, v := range files {
			env[k] = v
		}
		env["RUNNER_TEMP"] = r.dir
		env["GITHUB_ACTION_PATH"] = repoRoot
		env["PATH"] = strings.Join(append(append([]string{}, r.path...), env["PATH"]), string(os.PathListSeparator))
		for k, v := range s.Env {
			env[k] = r.expand(v, inputs, outputs)
		}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		fmt.Fprintf(&r.log, "== %s\n%s", s.Name, out)
		if s.ID != "" {
			outputs[s.ID] = readKV(t, files["GITHUB_OUTPUT"])
		}
		for k, v := range readKV(t, files["GITHUB_ENV"]) {
			r.env[k] = v
		}
		if b, _ := os.ReadFile(files["GITHUB_PATH"]); len(b) > 0 {
			for _, p := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				r.path = append([]string{p}, r.path...)
			}
		}
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), outputs
			}
			t.Fatal(err)
		}
	}
	return 0, outputs
}

// readKV reads a GITHUB_OUTPUT or GITHUB_ENV file: NAME=VALUE lines and
// NAME<<DELIMITER blocks.
func readKV(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[k] = strings.Join(val, "\n")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
