// Command testsummary reads `go test -json` on standard input and prints what
// a person needs from a long run: the output of failing tests, one line per
// package, and at the end every skipped test with the reason it gave (an
// integration test skips when its server is not installed). It exits 1 when
// a test or a build failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type skip struct{ pkg, test, reason string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	buf := map[string][]string{}
	var skips []skip
	var passed, failed int
	failedBuild, failedPkg := false, false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go vet or a build error printed as text).
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failedBuild = true
		case "output":
			if e.Test == "" {
				if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			buf[key] = append(buf[key], e.Output)
		case "pass":
			if e.Test != "" {
				passed++
				delete(buf, key)
			}
		case "fail":
			if e.Test == "" {
				failedPkg = true
				continue
			}
			failed++
			fmt.Fprint(out, strings.Join(buf[key], ""))
			delete(buf, key)
		case "skip":
			if e.Test == "" {
				continue
			}
			skips = append(skips, skip{e.Package, e.Test, reason(buf[key])})
			delete(buf, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsummary: %v\n", err)
		return 1
	}
	if len(skips) > 0 {
		sort.Slice(skips, func(i, j int) bool {
			if skips[i].pkg != skips[j].pkg {
				return skips[i].pkg < skips[j].pkg
			}
			return skips[i].test < skips[j].test
		})
		fmt.Fprintf(out, "\nskipped (%d):\n", len(skips))
		for _, s := range skips {
			fmt.Fprintf(out, "  %s %s: %s\n", s.pkg, s.test, s.reason)
		}
	}
	fmt.Fprintf(out, "tests: %d passed, %d failed, %d skipped\n", passed, failed, len(skips))
	if failed > 0 || failedBuild || failedPkg {
		return 1
	}
	return 0
}

// location is the "file.go:12: " prefix of testing's log lines.
var location = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// reason is what a skipped test printed, less go test's own lines.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		// "file_test.go:12: message"
		if m := location.FindStringIndex(t); m != nil {
			t = t[m[1]:]
		}
		r = append(r, t)
	}
	if len(r) == 0 {
		return "no reason given"
	}
	return strings.Join(r, " / ")
}
