package scan_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Strings an attacker controls: file names, archive members, pickle symbols
// and the messages that quote them.
const (
	hostilePath   = `models/<script>alert("path")</script>.pkl`
	hostileMember = `archive/</td></tr></table><img src=x onerror=alert(1)>/data.pkl`
	hostileSymbol = `"><svg onload=alert(2)>.system`
	hostileMsg    = `imports </style><script>alert(3)</script> & more`
	hostileError  = `</p><iframe src="https://attacker.example/">`
)

func hostileReport() *scan.Report {
	return scan.NewReport(scan.Tool{Name: "modelverify", Version: `v1<b>`, AllowlistVersion: "sha256:abc"}, []scan.Target{
		{Path: hostilePath, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 10, Format: "pickle", Verdict: scan.VerdictDangerous,
			Findings: []scan.Finding{
				{RuleID: scan.RuleDangerousGlobal, Severity: scan.SeverityCritical, Member: hostileMember, Offset: 57, Opcode: "STACK_GLOBAL", Symbol: hostileSymbol, Message: hostileMsg},
				{RuleID: `MV-"><script>x</script>`, Severity: scan.SeverityLow, Offset: -1, Message: "m"},
			}},
		{Path: `bad"onmouseover="alert(4)`, Format: "safetensors", Verdict: scan.VerdictMalformed, Error: hostileError,
			Findings: []scan.Finding{{RuleID: scan.RuleMalformed, Severity: scan.SeverityInfo, Offset: 8, Message: hostileError}}},
		{Path: "ok.safetensors", Format: "safetensors", Verdict: scan.VerdictClean, Findings: []scan.Finding{}},
	})
}

func renderHTML(t *testing.T, r *scan.Report, opts scan.HTMLOptions) (string, *html.Node) {
	t.Helper()
	var b bytes.Buffer
	if err := scan.WriteHTML(&b, r, opts); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// A browser parses the page into the same tree as x/net/html: no element or
// attribute the report's strings name may appear in it, and each string must
// come back as text.
func TestHTMLHostileNamesCannotInjectMarkup(t *testing.T) {
	_, doc := renderHTML(t, hostileReport(), scan.HTMLOptions{Targets: []string{`<script>t</script>`}})
	scripts, allText := 0, text(doc)
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			scripts++
		case "img", "svg", "iframe", "object", "embed", "link", "base", "form":
			t.Errorf("injected <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "src" {
				t.Errorf("<%s> has an injected attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
	})
	if scripts != 1 {
		t.Errorf("%d script elements, want the page's one", scripts)
	}
	for _, s := range []string{hostilePath, hostileSymbol, hostileMsg, hostileError, `bad"onmouseover="alert(4)`, `<script>t</script>`, `v1<b>`} {
		if !strings.Contains(allText, s) {
			t.Errorf("%q is not shown as text", s)
		}
	}
	// The member is a breadcrumb: one item per level, each as text.
	var crumbs []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "li" && n.Parent != nil {
			if c, _ := attr(n.Parent, "class"); c == "crumb" {
				crumbs = append(crumbs, text(n))
			}
		}
	})
	if want := strings.Split(hostileMember, "/"); fmt.Sprint(crumbs) != fmt.Sprint(want) {
		t.Errorf("breadcrumb %q, want %q", crumbs, want)
	}
}

// The page loads nothing: its policy allows no source but the inline style
// and script, by hash, and those hashes match what the page carries.
func TestHTMLContentSecurityPolicyAllowsOnlyItsOwnInlineCode(t *testing.T) {
	_, doc := renderHTML(t, hostileReport(), scan.HTMLOptions{})
	var csp string
	inline := map[string]string{}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "meta":
			if v, _ := attr(n, "http-equiv"); v == "Content-Security-Policy" {
				csp, _ = attr(n, "content")
			}
		case "style", "script":
			inline[n.Data] = text(n)
		case "a":
			href, _ := attr(n, "href")
			if !strings.HasPrefix(href, "#") && !strings.HasPrefix(href, scan.RulesDocURI+"#") {
				t.Errorf("link to %q", href)
			}
		}
	})
	if !strings.HasPrefix(csp, "default-src 'none'; ") {
		t.Fatalf("Content-Security-Policy %q does not start from default-src 'none'", csp)
	}
	for _, kind := range []string{"style", "script"} {
		sum := sha256.Sum256([]byte(inline[kind]))
		want := kind + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"
		if inline[kind] == "" || !strings.Contains(csp, want) {
			t.Errorf("policy %q lacks %q for the page's %s", csp, want, kind)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "data:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("policy %q allows %s", csp, bad)
		}
	}
}

// Each file is one row group whose classes drive the CSS filters, and each
// finding carries its rule's title and reference link.
func TestHTMLRowsCarryVerdictSeverityAndRuleHelp(t *testing.T) {
	page, doc := renderHTML(t, hostileReport(), scan.HTMLOptions{})
	var classes []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tbody" {
			if c, _ := attr(n, "class"); strings.HasPrefix(c, "file ") {
				classes = append(classes, c)
			}
		}
	})
	want := []string{
		"file v-malformed ge-info",
		"file v-dangerous ge-info ge-low ge-medium ge-high ge-critical",
		"file v-clean",
	}
	if fmt.Sprint(classes) != fmt.Sprint(want) {
		t.Errorf("row classes\n%q\nwant\n%q", classes, want)
	}
	doc0, _ := scan.RuleHelp(scan.RuleDangerousGlobal)
	for _, s := range []string{doc0.Title, doc0.Help(), `href="` + doc0.URL() + `"`, "CRITICAL", "Worst severity", "sha256:abc"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestEveryRuleIsDocumented(t *testing.T) {
	src, err := os.ReadFile("finding.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(src), "\n") {
		if i := strings.Index(line, `= "MV-`); i >= 0 {
			id := strings.Trim(strings.Fields(line[i+2:])[0], `"`)
			n++
			if d, ok := scan.RuleHelp(id); !ok || d.Title == "" || d.Help() == "" {
				t.Errorf("rule %s has no help", id)
			}
		}
	}
	if n != len(scan.RuleDocs()) {
		t.Errorf("finding.go has %d rules, the reference %d", n, len(scan.RuleDocs()))
	}
}
