// Package browser renders the HTML scan report in a real headless Chromium
// and checks what a person would see: the counts, that the filters hide rows,
// that sorting works under the page's Content-Security-Policy, and that the
// page sends no request anywhere.
//
// It needs Debian's chromium (/usr/bin/chromium, or $MODELVERIFY_CHROMIUM);
// it is skipped without it unless MODELVERIFY_INTEGRATION=require. The
// screenshot is a test artifact: keep it with
//
//	go test ./test/browser -run Chromium -artifacts -outputdir /tmp/modelverify-artifacts
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MODELVERIFY_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("MODELVERIFY_INTEGRATION") == "require" {
			t.Fatalf("%s is required (MODELVERIFY_INTEGRATION=require): %v", path, err)
		}
		t.Skipf("chromium not installed: %v", err)
	}
	return path
}

func copyFixture(t *testing.T, dir, name string, parts ...string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "fixtures"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostileName would load an image from loopback and run script if the
// report let a file name become markup.
const hostileName = `<img src="http:127.0.0.1:9" onerror="document.title='pwned'">.pkl`

// writeReport scans a folder of clean, dangerous, malformed and unsupported
// files, one of them with a name that is markup, and writes the HTML page.
func writeReport(t *testing.T) (string, *scan.Report) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFixture(t, dir, "clean.pkl", "pickle", "benign", "plain_v4.pkl")
	copyFixture(t, dir, "os_system.pkl", "pickle", "malicious", "os_system_v4.pkl")
	copyFixture(t, dir, "nested.tar.gz", "containers", "malicious", "nested.tar.gz")
	copyFixture(t, dir, hostileName, "pickle", "malicious", "os_system_v4.pkl")
	copyFixture(t, dir, "overlap.safetensors", "containers", "malformed", "overlap.safetensors")
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("a model card, not a model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), FailOn: scan.FailAt(scan.SeverityHigh)})
	targets, err := sc.ScanPaths(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, targets)
	if rep.Summary.Dangerous != 3 || rep.Summary.Malformed != 1 || rep.Summary.Targets != 6 {
		t.Fatalf("the folder did not scan as expected: %+v", rep.Summary)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := scan.WriteHTML(f, rep, scan.HTMLOptions{Targets: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return page, rep
}

// visible counts the file rows that the browser lays out.
const visible = `Array.from(document.querySelectorAll("tbody.file")).filter(e => e.getClientRects().length > 0).length`

func TestHTMLReportInChromium(t *testing.T) {
	bin := chromium(t)
	page, rep := writeReport(t)
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const width = 1280
	b := startBrowser(t, bin, width, 1000)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.attach(ctx))
	for _, domain := range []string{"Network", "Log", "Runtime", "Page"} {
		must(b.page(ctx, domain+".enable", nil, nil))
	}
	must(b.page(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": false}, nil))
	must(b.page(ctx, "Page.navigate", map[string]any{"url": pageURL}, nil))
	must(b.waitEvent(ctx, "Page.loadEventFired"))

	var (
		rows, imgs, height                   int
		title, worst, badge, paths, verdicts string
		summary                              map[string]int
	)
	must(b.eval(ctx, `document.querySelectorAll("tbody.file").length`, &rows))
	must(b.eval(ctx, `document.querySelectorAll("img, svg, iframe").length`, &imgs))
	must(b.eval(ctx, `Array.from(document.querySelectorAll("tbody.file .path")).map(e => e.textContent).join("\n")`, &paths))
	must(b.eval(ctx, `document.title`, &title))
	must(b.eval(ctx, `document.getElementById("worst").innerText`, &worst))
	must(b.eval(ctx, `Object.fromEntries(Array.from(document.querySelectorAll("[data-count]")).map(e => [e.dataset.count, Number(e.textContent)]))`, &summary))
	// The style sheet applied under the policy: a critical badge is dark red.
	must(b.eval(ctx, `getComputedStyle(document.querySelector(".badge.sev-critical")).backgroundColor`, &badge))

	must(b.eval(ctx, `document.documentElement.scrollHeight`, &height))
	var shot struct{ Data []byte }
	must(b.page(ctx, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
	}, &shot))
	out := filepath.Join(t.ArtifactDir(), "report.png")
	must(os.WriteFile(out, shot.Data, 0o644))
	t.Logf("screenshot: %s", out)
	if img, err := png.DecodeConfig(bytes.NewReader(shot.Data)); err != nil || img.Width != width || img.Height < 500 {
		t.Errorf("screenshot is not the full page: %v %+v", err, img)
	}

	shown := func(clicks ...string) int {
		t.Helper()
		for _, c := range clicks {
			must(b.click(ctx, c))
		}
		var n int
		must(b.eval(ctx, visible, &n))
		return n
	}
	dangerous := shown(`label[for=fv-dangerous]`)
	malformed := shown(`label[for=fv-malformed]`)
	clean := shown(`label[for=fv-clean]`)
	critical := shown(`label[for=fv-all]`, `label[for=fs-critical]`)
	medium := shown(`label[for=fs-medium]`)
	dangerousMedium := shown(`label[for=fv-dangerous]`)
	all0 := shown(`label[for=fv-all]`, `label[for=fs-any]`)
	// Sorting by worst severity puts critical files first: the inline script
	// ran, so the policy's hash matched it.
	must(b.click(ctx, `th[data-sort=severity] button`))
	must(b.eval(ctx, `Array.from(document.querySelectorAll("tbody.file")).map(e => e.dataset.verdict).join(",")`, &verdicts))

	s := rep.Summary
	if rows != s.Targets {
		t.Errorf("%d file rows, want %d", rows, s.Targets)
	}
	want := map[string]int{"targets": s.Targets, "dangerous": s.Dangerous, "malformed": s.Malformed, "clean": s.Clean, "unsupported": s.Unsupported}
	if fmt.Sprint(summary) != fmt.Sprint(want) {
		t.Errorf("summary shows %v, want %v", summary, want)
	}
	if dangerous != s.Dangerous || malformed != s.Malformed || clean != s.Clean {
		t.Errorf("verdict filters show %d dangerous, %d malformed, %d clean rows; want %d, %d, %d",
			dangerous, malformed, clean, s.Dangerous, s.Malformed, s.Clean)
	}
	// Three critical files; the malformed safetensors adds a medium finding.
	if critical != 3 || medium != 4 || dangerousMedium != 3 {
		t.Errorf("severity filters show %d at least critical, %d at least medium, %d dangerous and at least medium; want 3, 4, 3",
			critical, medium, dangerousMedium)
	}
	if all0 != s.Targets {
		t.Errorf("clearing the filters shows %d rows, want %d", all0, s.Targets)
	}
	if !strings.HasPrefix(verdicts, "dangerous,dangerous,dangerous,malformed,") {
		t.Errorf("sorted by worst severity, the verdicts read %s", verdicts)
	}
	if worst != "CRITICAL" {
		t.Errorf("worst severity reads %q", worst)
	}
	if badge != "rgb(139, 0, 0)" {
		t.Errorf("critical badge background %q: the style sheet did not apply", badge)
	}
	if imgs != 0 || title == "pwned" || !strings.Contains(paths, hostileName) {
		t.Errorf("the hostile file name became markup: %d img, title %q, paths %q", imgs, title, paths)
	}

	sawRequest := false
	for _, e := range b.seen() {
		switch e.Method {
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Request.URL == pageURL {
				sawRequest = true
			} else {
				t.Errorf("the page requested %s", p.Request.URL)
			}
		case "Log.entryAdded", "Runtime.exceptionThrown", "Runtime.consoleAPICalled":
			// CSP violations and script errors land here.
			t.Errorf("browser reported %s: %s", e.Method, e.Params)
		}
	}
	if !sawRequest {
		t.Error("saw no request for the page itself: the network listener is not working")
	}
}
