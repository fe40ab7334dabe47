package jinja

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

func maxSeverity(r Result) (scan.Severity, bool) {
	var m scan.Severity
	for i, is := range r.Issues {
		if i == 0 || is.Severity > m {
			m = is.Severity
		}
	}
	return m, len(r.Issues) > 0
}

func TestBenignTemplatesAreClean(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.jinja")
	n := 0
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "evil_") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := Analyze(string(b), Options{})
			if r.Err != nil {
				t.Fatalf("parse: %v", r.Err)
			}
			if len(r.Issues) != 0 {
				t.Fatalf("issues in a benign template: %+v", r.Issues)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d benign templates found", n)
	}
}

func TestMaliciousTemplatesAreFlagged(t *testing.T) {
	want := map[string]scan.Severity{
		"evil_ssti.jinja":        scan.SeverityCritical,
		"evil_globals.jinja":     scan.SeverityCritical,
		"evil_attr_concat.jinja": scan.SeverityCritical,
		"evil_join.jinja":        scan.SeverityCritical,
		"evil_set.jinja":         scan.SeverityCritical,
		"evil_escape.jinja":      scan.SeverityCritical,
		"evil_format.jinja":      scan.SeverityCritical,
		"evil_reverse.jinja":     scan.SeverityCritical,
		"evil_loop.jinja":        scan.SeverityCritical,
		"evil_dynamic.jinja":     scan.SeverityHigh,
		"evil_strformat.jinja":   scan.SeverityCritical,
		"evil_mapattr.jinja":     scan.SeverityCritical,
		"evil_dictkeys.jinja":    scan.SeverityCritical,
		"evil_include.jinja":     scan.SeverityHigh,
		"evil_unparsable.jinja":  scan.SeverityCritical,
		"evil_slice.jinja":       scan.SeverityCritical,
		"evil_private.jinja":     scan.SeverityCritical,
	}
	files, _ := filepath.Glob("testdata/evil_*.jinja")
	if len(files) != len(want) {
		t.Fatalf("%d evil templates on disk, %d expected", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := Analyze(string(b), Options{})
			sev, ok := maxSeverity(r)
			if !ok || sev < want[name] {
				t.Fatalf("max severity %v (found=%v), want at least %v; issues %+v, err %v", sev, ok, want[name], r.Issues, r.Err)
			}
		})
	}
}

func TestFolding(t *testing.T) {
	tests := []struct {
		name, src  string
		wantSymbol string
	}{
		{"concatenation with tilde is folded", `{{ x|attr('__gl' ~ 'obals__') }}`, "__globals__"},
		{"plus concatenation is folded", `{{ x|attr('__bui' + 'ltins__') }}`, "__builtins__"},
		{"join of a list is folded", `{{ x|attr(('__in', 'it__')|join) }}`, "__init__"},
		{"str.join is folded", `{{ x|attr(''.join(['__cl', 'ass__'])) }}`, "__class__"},
		{"upper and lower are folded", `{{ x|attr('__CLASS__'|lower) }}`, "__class__"},
		{"replace is folded", `{{ x|attr('XXclassXX'|replace('XX', '__')) }}`, "__class__"},
		{"percent formatting is folded", `{{ x|attr('%sclass%s' % ('__', '__')) }}`, "__class__"},
		{"brace formatting is folded", `{{ x|attr('{}mro{}'.format('__', '__')) }}`, "__mro__"},
		{"conditional alternatives are all judged", `{{ x|attr('a' if y else '__subclasses__') }}`, "__subclasses__"},
		{"a conditional without else may be undefined, which renders empty", `{{ x|attr('__cl' ~ ('x' if y) ~ 'ass__') }}`, "__class__"},
		{"string subscription of an unknown object", `{{ x['__globals__'] }}`, "__globals__"},
		{"selectattr argument", `{{ x|selectattr('__class__.__name__') }}`, "__class__"},
		{"name of a module", `{{ os.system('id') }}`, "os"},
		{"eval", `{{ eval('1') }}`, "eval"},
		{"popen attribute", `{{ x.popen('id') }}`, "popen"},
		{"repeated %c format", `{{ x|attr(("%c"*2)|format(95,95) ~ "class" ~ ("%c"*2)|format(95,95)) }}`, "__class__"},
		{"adjacent string literals", `{{ x|attr('__cl' 'ass__') }}`, "__class__"},
		{"unicode escapes", `{{ x['\u005f\u005fglobals\u005f\u005f'] }}`, "__globals__"},
		{"sort attribute argument", `{{ x|sort(attribute='__class__') }}`, "__class__"},
		{"map attr through a variable", `{% set f = 'attr' %}{{ x|map(f, '__class__') }}`, "__class__"},
		{"subscript with a variable key", `{% set k = "__globals__" %}{{ lipsum[k] }}`, "__globals__"},
		{"string repetition", `{{ x|attr(["_"*2, "init", "_"*2]|join) }}`, "__init__"},
		{"for loop over a constant string list", `{% for n in ['a', '__base__'] %}{{ x|attr(n) }}{% endfor %}`, "__base__"},
		{"method on a folded string", `{{ x|attr('__CLASS__'.lower()) }}`, "__class__"},
		{"name-mangled context", `{{ self._TemplateReference__context }}`, "_TemplateReference__context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Analyze(tt.src, Options{})
			if r.Err != nil {
				t.Fatalf("parse: %v", r.Err)
			}
			for _, is := range r.Issues {
				if is.Symbol == tt.wantSymbol && is.Severity == scan.SeverityCritical {
					return
				}
			}
			t.Fatalf("no critical issue for %s: %+v", tt.wantSymbol, r.Issues)
		})
	}
}

func TestVariablesShadowDangerousNames(t *testing.T) {
	r := Analyze(`{% set system = messages[0]['content'] %}{% for os in items %}{{ os }}{{ system }}{% endfor %}`, Options{})
	if r.Err != nil || len(r.Issues) != 0 {
		t.Fatalf("err %v issues %+v", r.Err, r.Issues)
	}
}

func TestNestingLimit(t *testing.T) {
	src := "{{ " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + " }}"
	r := Analyze(src, Options{MaxNesting: 100})
	if r.Err == nil {
		t.Fatal("deep nesting accepted")
	}
}

func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jinja")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		Analyze(src, Options{MaxNesting: 64})
	})
}

func TestFormat(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	for _, tt := range []struct {
		file string
		want scan.Verdict
	}{
		{"testdata/qwen25.jinja", scan.VerdictClean},
		{"testdata/llama31_tools.jinja", scan.VerdictClean},
		{"testdata/evil_ssti.jinja", scan.VerdictDangerous},
		{"testdata/evil_format.jinja", scan.VerdictDangerous},
	} {
		tg := sc.ScanFile(context.Background(), tt.file, tt.file)
		if tg.Format != "jinja-template" || tg.Verdict != tt.want {
			t.Errorf("%s: format %s verdict %s, want %s: %+v", tt.file, tg.Format, tg.Verdict, tt.want, tg.Findings)
		}
	}
}

func TestOrdinaryKeysNamedLikeFunctionsAreClean(t *testing.T) {
	r := Analyze(`{% if message['role'] == 'system' %}{{ message.system }}{{ message['open'] }}{% endif %}`, Options{})
	if r.Err != nil || len(r.Issues) != 0 {
		t.Fatalf("err %v issues %+v", r.Err, r.Issues)
	}
}

func TestUnparsableBenignTemplateIsNotCritical(t *testing.T) {
	r := Analyze(`{% if message['role'] == 'system' %}{{ message.content }}{% trans %}hi{% endtrans %}{% endif %}`, Options{})
	if r.Err == nil {
		t.Fatal("an unknown tag parsed")
	}
	if len(r.Issues) != 0 {
		t.Fatalf("issues %+v", r.Issues)
	}
}
