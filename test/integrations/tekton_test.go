package integrations_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/registry"
)

type tektonTask struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Params []struct {
			Name    string `yaml:"name"`
			Default string `yaml:"default"`
		} `yaml:"params"`
		Steps []struct {
			Name       string   `yaml:"name"`
			WorkingDir string   `yaml:"workingDir"`
			Command    []string `yaml:"command"`
			Args       []string `yaml:"args"`
			Env        []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"spec"`
}

var tektonVar = regexp.MustCompile(`\$\((params|workspaces)\.([a-z0-9-]+)(?:\.path)?\)`)

// runTask plays a Task's steps as Tekton does (command + args, with
// $(params.x) and $(workspaces.x.path) substituted), with the binary in
// place of the image's /usr/local/bin/modelverify. It returns the exit
// code of the first failing step.
func runTask(t *testing.T, task tektonTask, params, workspaces map[string]string) (int, string) {
	t.Helper()
	vals := map[string]string{}
	for _, p := range task.Spec.Params {
		vals["params."+p.Name] = p.Default
	}
	for k, v := range params {
		if _, ok := vals["params."+k]; !ok {
			t.Fatalf("task %s has no param %s", task.Metadata.Name, k)
		}
		vals["params."+k] = v
	}
	for k, v := range workspaces {
		vals["workspaces."+k] = v
	}
	subst := func(s string) string {
		return tektonVar.ReplaceAllStringFunc(s, func(m string) string {
			g := tektonVar.FindStringSubmatch(m)
			v, ok := vals[g[1]+"."+g[2]]
			if !ok {
				t.Fatalf("task %s: no value for %s", task.Metadata.Name, m)
			}
			return v
		})
	}
	var log strings.Builder
	for _, s := range task.Spec.Steps {
		var args []string
		for _, a := range s.Args {
			args = append(args, subst(a))
		}
		cmd := exec.Command(binary, args...)
		cmd.Dir = subst(s.WorkingDir)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for _, e := range s.Env {
			cmd.Env = append(cmd.Env, e.Name+"="+subst(e.Value))
		}
		out, err := cmd.CombinedOutput()
		log.WriteString(s.Name + ": " + string(out))
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), log.String()
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return 0, log.String()
}

func TestTektonTasksRun(t *testing.T) {
	tasks := map[string]tektonTask{}
	for _, doc := range yamlDocs(t, "integrations/tekton/modelverify-tasks.yaml") {
		var task tektonTask
		if err := doc.Decode(&task); err != nil {
			t.Fatal(err)
		}
		tasks[task.Metadata.Name] = task
	}
	scanTask, verifyTask := tasks["modelverify-scan"], tasks["modelverify-verify"]
	if len(scanTask.Spec.Steps) == 0 || len(verifyTask.Spec.Steps) == 0 {
		t.Fatalf("tasks %v", tasks)
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "model"), 0o755)
	os.WriteFile(filepath.Join(src, "model", "pytorch_model.bin"), read(t, "fixtures/demo/tiny-mlp/pytorch_model.bin"), 0o644)
	os.MkdirAll(filepath.Join(src, "evil"), 0o755)
	os.WriteFile(filepath.Join(src, "evil", "model.pt"), read(t, "fixtures/pickle/malicious/os_system_v4.pkl"), 0o644)
	empty := t.TempDir()

	t.Run("scan a clean folder", func(t *testing.T) {
		code, log := runTask(t, scanTask, map[string]string{"target": "model"}, map[string]string{"source": src, "dockerconfig": empty})
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, log)
		}
		var rep struct {
			Summary struct{ Clean int } `json:"summary"`
		}
		b, err := os.ReadFile(filepath.Join(src, "modelverify-report.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Clean != 1 {
			t.Errorf("report summary %+v", rep.Summary)
		}
	})
	t.Run("scan a malicious folder fails the task", func(t *testing.T) {
		code, log := runTask(t, scanTask, map[string]string{"target": "evil"}, map[string]string{"source": src, "dockerconfig": empty})
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, log)
		}
	})
	t.Run("verify a signed model in a registry", func(t *testing.T) {
		host := registry.NewInProcess(t, true)
		keys := t.TempDir()
		mv := func(args ...string) {
			t.Helper()
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), "MODELVERIFY_PASSWORD=")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("modelverify %v: %v\n%s", args, err, out)
			}
		}
		mv("keygen", "--output-key-prefix", filepath.Join(keys, "release"))
		ref := "oci://" + host + "/models/tiny:v1"
		mv("push", "--quiet", "--plain-http", filepath.Join(src, "model"), ref)
		out, _ := exec.Command(binary, "inspect", "--plain-http", "--format", "json", ref).Output()
		digest := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(string(out))
		if digest == "" {
			t.Fatalf("no digest in inspect output:\n%s", out)
		}
		pinned := "oci://" + host + "/models/tiny@" + digest
		ws := map[string]string{"keys": keys, "dockerconfig": empty}
		// The task's registry is plain HTTP here only; real registries use TLS.
		task := verifyTask
		task.Spec.Steps = append(task.Spec.Steps[:0:0], task.Spec.Steps...)
		for i := range task.Spec.Steps {
			task.Spec.Steps[i].Args = append([]string{task.Spec.Steps[i].Args[0], "--plain-http"}, task.Spec.Steps[i].Args[1:]...)
		}
		if code, log := runTask(t, task, map[string]string{"model": pinned}, ws); code != 1 {
			t.Fatalf("unsigned: exit %d, want 1\n%s", code, log)
		}
		mv("sign", "--plain-http", "--key", filepath.Join(keys, "release.key"), pinned)
		if code, log := runTask(t, task, map[string]string{"model": pinned}, ws); code != 1 {
			t.Fatalf("signed but not scanned: exit %d, want 1\n%s", code, log)
		}
		mv("scan", "--attest", "--plain-http", "--key", filepath.Join(keys, "release.key"), pinned)
		if code, log := runTask(t, task, map[string]string{"model": pinned}, ws); code != 0 {
			t.Fatalf("signed and scanned: exit %d\n%s", code, log)
		}
	})
}
