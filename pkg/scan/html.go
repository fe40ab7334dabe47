package scan

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"strings"
	"sync"
)

//go:embed htmlreport/report.html.tmpl htmlreport/report.css htmlreport/report.js
var htmlFiles embed.FS

// The page's only style sheet and script are inline, and the
// Content-Security-Policy allows exactly those two by hash: nothing is loaded
// from anywhere, no other inline code runs, and the page works from disk.
// htmlAssets is built on first use, so that commands that write no HTML
// report do not parse the template at start.
type htmlAssets struct {
	css, js, csp string
	tmpl         *template.Template
}

var loadHTMLAssets = sync.OnceValue(func() *htmlAssets {
	read := func(name string) string {
		b, err := htmlFiles.ReadFile("htmlreport/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		return string(b)
	}
	a := &htmlAssets{css: read("report.css"), js: read("report.js")}
	a.csp = "default-src 'none'; style-src " + cspHash(a.css) + "; script-src " + cspHash(a.js) +
		"; img-src 'none'; font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
	a.tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
		"upper": strings.ToUpper,
	}).Parse(read("report.html.tmpl")))
	return a
})

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// HTMLOptions adds what the report itself does not record. The zero value
// shows neither.
type HTMLOptions struct {
	// Targets are the arguments the scan was given (files, folders, references).
	Targets []string
}

type htmlPage struct {
	CSP          string
	CSS          template.CSS
	JS           template.JS
	Tool         Tool
	Summary      Summary
	Verdict      Verdict
	Worst        Severity
	HasWorst     bool
	FindingCount int
	Roots        []string
	Files        []htmlFile
	Rules        []RuleDoc
}

type htmlFile struct {
	Target
	Findings []htmlFinding
	Worst    Severity
	HasWorst bool
	// Rank orders by worst severity: -1 without findings.
	Rank int
	// AtLeast names every severity at or below the worst, for the filter.
	AtLeast []string
}

type htmlFinding struct {
	Finding
	Crumbs []string
	Doc    RuleDoc
}

// WriteHTML writes the report as one self-contained HTML page: a summary, a
// table of files that filters by verdict and worst severity (pure CSS) and
// sorts (a small inline script), every finding with its rule's help, and the
// rules' reference. Every string from the report is escaped by html/template.
func WriteHTML(w io.Writer, r *Report, opts HTMLOptions) error {
	assets := loadHTMLAssets()
	page := htmlPage{
		CSP: assets.csp, CSS: template.CSS(assets.css), JS: template.JS(assets.js),
		Tool: r.Tool, Summary: r.Summary, Roots: opts.Targets, Verdict: VerdictClean,
	}
	switch {
	case r.Summary.Dangerous > 0:
		page.Verdict = VerdictDangerous
	case r.Summary.Malformed > 0:
		page.Verdict = VerdictMalformed
	}
	page.Worst, page.HasWorst = r.MaxSeverity()
	used := map[string]bool{}
	for _, t := range r.Targets {
		f := htmlFile{Target: t, Rank: -1}
		for _, fd := range t.Findings {
			doc, _ := RuleHelp(fd.RuleID)
			hf := htmlFinding{Finding: fd, Doc: doc}
			if fd.Member != "" {
				hf.Crumbs = strings.Split(fd.Member, "/")
			}
			f.Findings = append(f.Findings, hf)
			if !f.HasWorst || fd.Severity > f.Worst {
				f.Worst, f.HasWorst = fd.Severity, true
			}
			used[fd.RuleID] = true
			page.FindingCount++
		}
		if f.HasWorst {
			f.Rank = int(f.Worst)
			for s := SeverityInfo; s <= f.Worst && s < SeverityNone; s++ {
				f.AtLeast = append(f.AtLeast, s.String())
			}
		}
		page.Files = append(page.Files, f)
	}
	for _, d := range RuleDocs() {
		if used[d.ID] {
			page.Rules = append(page.Rules, d)
			delete(used, d.ID)
		}
	}
	for _, t := range page.Files { // rules the reference does not know, in report order
		for _, fd := range t.Findings {
			if used[fd.RuleID] {
				page.Rules = append(page.Rules, fd.Doc)
				delete(used, fd.RuleID)
			}
		}
	}
	return assets.tmpl.Execute(w, page)
}
