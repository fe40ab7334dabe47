package gguf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

const fixtures = "../../../fixtures/formats/gguf"

func scanFile(t *testing.T, path string) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: []scan.Format{Format{}}, Workers: 1})
	return sc.ScanFile(context.Background(), path, filepath.Base(path))
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures, "*.gguf"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tg := scanFile(t, f)
			if tg.Format != "gguf" {
				t.Fatalf("format %q", tg.Format)
			}
			want := map[string]scan.Verdict{"benign": scan.VerdictClean, "evil": scan.VerdictDangerous, "malformed": scan.VerdictMalformed}[strings.SplitN(name, "_", 2)[0]]
			if tg.Verdict != want {
				t.Fatalf("verdict %s, want %s; findings %+v; error %s", tg.Verdict, want, tg.Findings, tg.Error)
			}
			if want == scan.VerdictDangerous {
				found := false
				for _, fd := range tg.Findings {
					if fd.RuleID == scan.RuleTemplateInjection && fd.Severity == scan.SeverityCritical {
						found = true
					}
				}
				if !found {
					t.Fatalf("no critical template finding: %+v", tg.Findings)
				}
			}
		})
	}
}

func TestParseReadsEveryTemplate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "benign_named_templates.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(context.Background(), bytes.NewReader(b), int64(len(b)), scan.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tp := range h.Templates {
		keys = append(keys, tp.Key)
	}
	if strings.Join(keys, ",") != "tokenizer.chat_template,tokenizer.chat_template.tool_use" {
		t.Fatalf("templates %v", keys)
	}
	if h.Version != 3 || h.Tensors != 2 || h.Alignment != 32 || h.DataStart%32 != 0 {
		t.Fatalf("header %+v", h)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"version 3 little-endian", []byte("GGUF\x03\x00\x00\x00"), true},
		{"version 1", []byte("GGUF\x01\x00\x00\x00"), true},
		{"big-endian version 3", []byte("GGUF\x00\x00\x00\x03"), true},
		{"version 9", []byte("GGUF\x09\x00\x00\x00"), false},
		{"a pickle", []byte("\x80\x04\x95\x00\x00\x00\x00\x00"), false},
		{"too short", []byte("GGUF"), false},
	}
	for _, tt := range tests {
		if got := (Format{}).Match(tt.head, int64(len(tt.head))); got != tt.want {
			t.Errorf("%s: Match = %v", tt.name, got)
		}
	}
}

func TestHeaderLimit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "benign_chatml.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	lim := scan.DefaultLimits
	lim.MaxHeaderBytes = 100
	_, err = Parse(context.Background(), bytes.NewReader(b), int64(len(b)), lim)
	if !isLimit(err) {
		t.Fatalf("err %v, want a limit", err)
	}
}

func isLimit(err error) bool {
	_, ok := err.(*scan.LimitError)
	return ok
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.gguf"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	lim := scan.DefaultLimits
	lim.MaxHeaderBytes = 1 << 20
	lim.MaxNesting = 16
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _ := Parse(context.Background(), bytes.NewReader(b), int64(len(b)), lim)
		for _, tp := range h.Templates {
			if len(tp.Text) > len(b) {
				t.Fatalf("template longer than the file")
			}
		}
	})
}
