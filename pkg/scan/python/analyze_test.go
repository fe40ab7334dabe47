package python_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/python"
)

func uses(t *testing.T, src string) []string {
	t.Helper()
	mod, err := python.Parse(src, python.Limits{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out []string
	for _, u := range python.Analyze(mod).Uses {
		out = append(out, u.Symbol+"@"+itoa(u.Line))
	}
	return out
}

func itoa(n int) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}

func TestDangerousUsesAreFoundThroughAliases(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"a literal call", "import os\nos.system('id')\n", []string{"os.system@2"}},
		{"an aliased module", "import subprocess as sp\n\ndef f():\n    sp.run(['id'])\n", []string{"subprocess@1", "subprocess.run@4"}},
		{"from import as", "from os import system as run\nrun('id')\n", []string{"os.system@1", "os.system@2"}},
		{"an assigned alias used before its assignment", "def f():\n    g('x')\nimport os\ng = os.popen\n", []string{"os.popen@2", "os.popen@4"}},
		{"getattr with a constant", "import os\ngetattr(os, 'system')('id')\n", []string{"os.system@2"}},
		{"getattr with a computed name", "import os\nn = 'sys' + 'tem'\ngetattr(os, n)('id')\n", []string{"os.<computed>@3"}},
		{"__import__", "__import__('os').system('id')\n", []string{"builtins.__import__@1", "os.system@1"}},
		{"importlib", "import importlib\nm = importlib.import_module('subprocess')\nm.call('id')\n", []string{"importlib@1", "importlib.import_module@2", "subprocess@2", "subprocess.call@3"}},
		{"eval, exec and compile", "eval(x)\nexec(y)\ncompile(z, 'f', 'exec')\n", []string{"builtins.eval@1", "builtins.exec@2", "builtins.compile@3"}},
		{"a shadowed builtin is not the builtin", "def eval(x):\n    return x\neval(1)\n", nil},
		{"ctypes", "from ctypes import CDLL\nCDLL('libc.so.6')\n", []string{"ctypes.CDLL@1", "ctypes.CDLL@2"}},
		{"torch.load and pickle", "import torch, pickle as pk\ntorch.load(p)\npk.loads(b)\n", []string{"pickle@1", "torch.load@2", "pickle.loads@3"}},
		{"a network client", "import urllib.request\nurllib.request.urlopen(u)\n", []string{"urllib.request@1", "urllib.request.urlopen@2"}},
		{"open for writing", "open(p, 'w').write(x)\nopen(p)\nopen(p, mode='rb')\nopen(p, m)\n", []string{"builtins.open@1", "builtins.open@4"}},
		{"a pathlib write", "from pathlib import Path\nPath(p).write_text(s)\n", []string{".write_text@2"}},
		{"inside an f-string", "import os\nprint(f\"{os.popen('id').read()}\")\n", []string{"os.popen@2"}},
		{"a star import of a dangerous module", "from subprocess import *\n", []string{"subprocess.*@1"}},
		{"a module that only defines a network", "import torch\nfrom torch import nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return torch.relu(x)\n", nil},
		{"a name that only starts like a module", "import subprocess_helpers\nsubprocess_helpers.run()\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := uses(t, c.src)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("uses %v, want %v", got, c.want)
			}
		})
	}
}

func fixture(t *testing.T, rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "fixtures", "code", rel)
}

func TestPythonFilesAreScannedByContent(t *testing.T) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	cases := []struct {
		file     string
		critical []string
	}{
		{"hf-remote-code/modeling_x.py", nil},
		{"hf-remote-code/pipeline_x.py", []string{"os.system"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			tg := sc.ScanFile(context.Background(), fixture(t, c.file), c.file)
			var crit []string
			code := 0
			for _, f := range tg.Findings {
				switch f.RuleID {
				case scan.RulePythonDangerous:
					crit = append(crit, f.Symbol)
					if f.Line <= 0 || !strings.HasPrefix(f.Message, fmt.Sprintf("line %d: ", f.Line)) {
						t.Errorf("line %d, message %q", f.Line, f.Message)
					}
				case scan.RulePythonCode:
					code++
				}
			}
			if tg.Format != "python" || code != 1 || strings.Join(crit, " ") != strings.Join(c.critical, " ") || tg.Verdict != scan.VerdictDangerous {
				t.Fatalf("format %s verdict %s findings %+v", tg.Format, tg.Verdict, tg.Findings)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for head, want := range map[string]bool{
		"#!/usr/bin/env python3\nprint(1)\n":              true,
		"#!/bin/sh\necho\n":                               false,
		"# -*- coding: utf-8 -*-\n\"\"\"Doc.\"\"\"\n":     true,
		"# Copyright\n\nimport torch\n":                   true,
		"from transformers import PreTrainedModel\n":      true,
		"from the authors of this model\n":                false,
		"# Model card\n\nThis model was trained on ...\n": false,
		"class Foo:\n    pass\n":                          true,
		"\x80\x02cos\nsystem\n":                           false,
		"    import os\n":                                 false,
		"import { h } from 'preact';\n":                   false,
		"import os, sys as system  # comment\n":           true,
		"class Foo {\n}\n":                                false,
		"VERSION = '1.0'\n":                               true,
		"__import__('os').system('id')\n":                 true,
		"(lambda: 0)()\n":                                 true,
		"model: bert\nlayers: 12\n":                       false,
		"\"a\",\"b\"\n\"1\",\"2\"\n":                      false,
		"This model was trained on data.\n":               false,
		"a == b\n":                                        false,
		"@torch.no_grad()\ndef f(): pass\n":               true,
	} {
		if got := (python.Format{}).Match([]byte(head), int64(len(head))) || (python.Text{}).Match([]byte(head), int64(len(head))); got != want {
			t.Errorf("Match(%q) = %v", head, got)
		}
	}
}

func TestSourceThatStartsLikePythonButDoesNotParseIsMalformed(t *testing.T) {
	src := []byte("import os\nprint 'python 2'\n")
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "x.py", bytes.NewReader(src), int64(len(src)))
	if tg.Verdict != scan.VerdictMalformed || !strings.Contains(tg.Error, "line 2") {
		t.Fatalf("verdict %s error %q", tg.Verdict, tg.Error)
	}
}

func TestTextThatOnlyBeganLikePythonIsNotPython(t *testing.T) {
	src := []byte("title = \"TOML\"\n\n[owner]\ndob = 1979-05-27T07:32:00-08:00\n")
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "x.toml", bytes.NewReader(src), int64(len(src)))
	if tg.Verdict != scan.VerdictUnsupported {
		t.Fatalf("verdict %s findings %+v", tg.Verdict, tg.Findings)
	}
}

func TestDeepSourceHitsTheNestingLimit(t *testing.T) {
	src := []byte("x = " + strings.Repeat("[", 250) + strings.Repeat("]", 250) + "\n")
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	tg := sc.ScanReaderAt(context.Background(), "x.py", bytes.NewReader(append([]byte("import os\n"), src...)), int64(len(src)+10))
	found := false
	for _, f := range tg.Findings {
		found = found || f.RuleID == scan.RuleLimit && strings.Contains(f.Message, "max-nesting")
	}
	if !found {
		t.Fatalf("findings %+v", tg.Findings)
	}
}

func TestStandardLibraryModulesAreJudged(t *testing.T) {
	// subprocess.py itself runs processes; json/__init__.py does not.
	for file, wantDanger := range map[string]bool{"/usr/lib/python3.11/subprocess.py": true, "/usr/lib/python3.11/json/__init__.py": false} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Skip(err)
		}
		mod, err := python.Parse(string(b), python.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(python.Analyze(mod).Uses) > 0; got != wantDanger {
			t.Errorf("%s: dangerous %v, uses %v", file, got, python.Analyze(mod).Uses)
		}
	}
}
