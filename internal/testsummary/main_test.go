package main

import (
	"strings"
	"testing"
)

func TestSummaryListsSkipsAndFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestOK"}`,
		`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p","Test":"TestOK","Output":"    a_test.go:3: chatter\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestOK"}`,
		`{"Action":"output","Package":"p","Test":"TestServer","Output":"    registry.go:83: /usr/bin/docker-registry not installed\n"}`,
		`{"Action":"output","Package":"p","Test":"TestServer","Output":"--- SKIP: TestServer (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestServer"}`,
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"    b_test.go:9: wrong answer\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	for _, want := range []string{"wrong answer", "FAIL\tp", "p TestServer: /usr/bin/docker-registry not installed", "tests: 1 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "chatter") {
		t.Errorf("a passing test's log is shown:\n%s", got)
	}
}
