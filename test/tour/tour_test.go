// Package tour_test runs docs/getting-started.md as a new user would: it
// clones the repository into a fresh folder and runs, in order, every code
// block whose fence says "sh tour", checking each block's exit code
// ("sh tour exit=1" expects 1). The page and the test cannot drift: the
// commands are read from the page.
package tour_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/registry"
)

var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

type block struct {
	line int
	exit int
	body string
}

// tourBlocks returns the "sh tour" blocks of a Markdown page.
func tourBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			fields := strings.Fields(strings.TrimPrefix(line, "```"))
			if len(fields) >= 2 && fields[0] == "sh" && fields[1] == "tour" {
				cur = &block{line: n}
				for _, f := range fields[2:] {
					if v, ok := strings.CutPrefix(f, "exit="); ok {
						cur.exit, err = strconv.Atoi(v)
						if err != nil {
							t.Fatalf("%s:%d: %q", path, n, f)
						}
					}
				}
			} else if len(fields) > 0 {
				cur = &block{line: -1} // another block: skip its body
			} else {
				cur = &block{line: -1}
			}
		case cur != nil && strings.HasPrefix(line, "```"):
			if cur.line > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated code block", path)
	}
	return out
}

func TestGettingStartedTour(t *testing.T) {
	if testing.Short() {
		t.Skip("clones and builds the repository")
	}
	for _, tool := range []string{"git", "make", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(registry.RequireEnv) == "require" {
				t.Fatalf("%s is not installed", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, ".git")); err != nil {
		t.Skip("not a git checkout")
	}
	host := registryHost(t)
	clone := filepath.Join(t.TempDir(), "modelverify")
	if out, err := exec.Command("git", "clone", "--quiet", repoRoot, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	blocks := tourBlocks(t, filepath.Join(clone, "docs", "getting-started.md"))
	if len(blocks) < 8 {
		t.Fatalf("only %d tour blocks in getting-started.md", len(blocks))
	}
	home := t.TempDir()
	state := filepath.Join(t.TempDir(), "env")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home, // no Docker config, no shell profile of the machine
		"REGISTRY=" + host,
		"GOTOOLCHAIN=local",
	}
	// Go's caches are shared with the machine so that the build is not cold.
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "TMPDIR"} {
		if v := goEnv(t, k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	for _, b := range blocks {
		// Each block runs in its own bash -e, like a user pasting it, with
		// the variables the previous blocks exported.
		script := fmt.Sprintf("[ -f %q ] && . %q\ntrap 'export -p > %q' EXIT\n%s", state, state, state, b.body)
		cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir = clone
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != b.exit {
			t.Fatalf("getting-started.md:%d: exit %d, want %d\n%s\noutput:\n%s", b.line, code, b.exit, b.body, out)
		}
		t.Logf("getting-started.md:%d: exit %d\n%s", b.line, code, b.body)
	}
	// The scratch folder was outside the clone, and is gone.
	exported, _ := os.ReadFile(state)
	var tour string
	for _, line := range strings.Split(string(exported), "\n") {
		if v, ok := strings.CutPrefix(line, "declare -x TOUR="); ok {
			tour = strings.Trim(v, `"`)
		}
	}
	if tour == "" || strings.HasPrefix(tour, clone) {
		t.Errorf("the tour's scratch folder %q is not outside the repository", tour)
	} else if _, err := os.Stat(tour); err == nil {
		t.Errorf("the tour left its scratch folder %s behind", tour)
	}
	if out, _ := exec.Command("git", "-C", clone, "status", "--porcelain").Output(); len(out) > 0 {
		t.Errorf("the tour left files in the repository:\n%s", out)
	}
}

func goEnv(t *testing.T, k string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	if k == "TMPDIR" {
		return ""
	}
	out, err := exec.Command("go", "env", k).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// registryHost starts the registry as the page says: Debian's
// docker-registry through scripts/local-registry.sh, or, where it is not
// installed, the in-process registry.
func registryHost(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(registry.DistributionBinary); err != nil && os.Getenv(registry.RequireEnv) != "require" {
		return registry.NewInProcess(t, true)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir := t.TempDir()
	script := filepath.Join(repoRoot, "scripts", "local-registry.sh")
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), "PORT="+port)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("local-registry.sh start: %v", err)
	}
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	want := "export REGISTRY=127.0.0.1:" + port
	if strings.TrimSpace(string(out)) != want {
		t.Fatalf("local-registry.sh printed %q, want %q", out, want)
	}
	return "127.0.0.1:" + port
}

func TestTourBlocksAreFound(t *testing.T) {
	p := filepath.Join(t.TempDir(), "page.md")
	os.WriteFile(p, []byte("text\n```sh tour\necho a\n```\n```sh\nnot run\n```\n```sh tour exit=1\nfalse\n```\n"), 0o644)
	got := tourBlocks(t, p)
	if len(got) != 2 || got[0].body != "echo a\n" || got[0].exit != 0 || got[1].body != "false\n" || got[1].exit != 1 {
		t.Fatalf("%+v", got)
	}
}
