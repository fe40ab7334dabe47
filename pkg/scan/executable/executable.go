package executable

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/archive"
)

// Format is an executable or script. It is registered before the formats
// whose magic numbers are loose (pickle), so a weight file whose head is a
// program is reported as the program.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "executable" }

// Match implements scan.Format.
func (Format) Match(head []byte, size int64) bool {
	k, _ := Identify(head)
	return k != ""
}

// Kind names what Identify recognised.
type Kind string

const (
	KindELF     Kind = "elf"
	KindPE      Kind = "pe"
	KindMSDOS   Kind = "ms-dos"
	KindMachO   Kind = "mach-o"
	KindFat     Kind = "mach-o-universal"
	KindAPE     Kind = "ape"
	KindJava    Kind = "java-class"
	KindShebang Kind = "script"
)

// Identify says what kind of program head starts, and describes it
// ("ELF 64-bit little-endian shared object, x86-64"). It returns "" for
// anything else. It reads only head; PE's header offset beyond head is
// described as MS-DOS or PE without its machine.
func Identify(head []byte) (Kind, string) {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return KindELF, describeELF(head)
	case bytes.HasPrefix(head, []byte("MZqFpD")) || bytes.HasPrefix(head, []byte("jartsr=")) ||
		bytes.HasPrefix(head, []byte("APEDBG=")):
		return KindAPE, "Actually Portable Executable (a polyglot of MS-DOS/PE, shell script and ELF/Mach-O loaders, as llamafile ships)"
	case bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 64:
		return describePE(head)
	case len(head) >= 8 && isMachO(head):
		return KindMachO, describeMachO(head)
	case len(head) >= 8 && (bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbe}) || bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbf})):
		// Universal binaries and Java class files share the magic; the
		// architecture count is small, a class file's version is 45 or more.
		n := binary.BigEndian.Uint32(head[4:8])
		if n > 0 && n < 45 {
			return KindFat, fmt.Sprintf("Mach-O universal binary with %d architectures", n)
		}
		if binary.BigEndian.Uint16(head[6:8]) >= 45 {
			return KindJava, fmt.Sprintf("Java class file, version %d", binary.BigEndian.Uint16(head[6:8]))
		}
	case bytes.HasPrefix(head, []byte("#!")):
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		line = bytes.TrimSpace(bytes.TrimSuffix(line, []byte("\r")))
		if len(line) == 0 || !printable(line) {
			return "", ""
		}
		return KindShebang, fmt.Sprintf("script for %s", interpreter(string(line)))
	}
	return "", ""
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// interpreter names the program a shebang line runs, looking through env.
func interpreter(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return line
	}
	prog := f[0]
	if strings.HasSuffix(prog, "/env") {
		for _, a := range f[1:] {
			if !strings.HasPrefix(a, "-") {
				return a
			}
		}
	}
	if i := strings.LastIndexByte(prog, '/'); i >= 0 && i+1 < len(prog) {
		return prog[i+1:]
	}
	return prog
}

var elfMachines = map[uint16]string{
	3: "x86", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390", 40: "ARM", 62: "x86-64",
	183: "AArch64", 243: "RISC-V", 247: "BPF", 258: "LoongArch",
}

func describeELF(h []byte) string {
	if len(h) < 20 {
		return "ELF (truncated header)"
	}
	class := map[byte]string{1: "32-bit", 2: "64-bit"}[h[4]]
	var bo binary.ByteOrder = binary.LittleEndian
	order := "little-endian"
	if h[5] == 2 {
		bo, order = binary.BigEndian, "big-endian"
	}
	typ := map[uint16]string{1: "relocatable object", 2: "executable", 3: "shared object or position-independent executable", 4: "core dump"}[bo.Uint16(h[16:18])]
	if typ == "" {
		typ = "file"
	}
	d := strings.Join(strings.Fields(fmt.Sprintf("ELF %s %s %s", class, order, typ)), " ")
	if m, ok := elfMachines[bo.Uint16(h[18:20])]; ok {
		d += ", " + m
	}
	return d
}

var peMachines = map[uint16]string{0x14c: "x86", 0x8664: "x86-64", 0xaa64: "ARM64", 0x1c0: "ARM", 0x1c4: "ARMv7"}

func describePE(h []byte) (Kind, string) {
	off := binary.LittleEndian.Uint32(h[0x3c:0x40])
	if int64(off)+6 <= int64(len(h)) && bytes.Equal(h[off:off+4], []byte("PE\x00\x00")) {
		d := "PE (Windows) executable or DLL"
		if m, ok := peMachines[binary.LittleEndian.Uint16(h[off+4:off+6])]; ok {
			d += ", " + m
		}
		return KindPE, d
	}
	return KindMSDOS, "MS-DOS executable (a PE header may follow beyond the first KiB)"
}

func isMachO(h []byte) bool {
	m := binary.BigEndian.Uint32(h[:4])
	return m == 0xfeedface || m == 0xfeedfacf || m == 0xcefaedfe || m == 0xcffaedfe
}

var machoCPUs = map[uint32]string{7: "x86", 0x01000007: "x86-64", 12: "ARM", 0x0100000c: "ARM64", 18: "PowerPC", 0x01000012: "PowerPC64"}

func describeMachO(h []byte) string {
	m := binary.BigEndian.Uint32(h[:4])
	var bo binary.ByteOrder = binary.BigEndian
	if m == 0xcefaedfe || m == 0xcffaedfe {
		bo = binary.LittleEndian
	}
	bits := "32-bit"
	if m == 0xfeedfacf || m == 0xcffaedfe {
		bits = "64-bit"
	}
	d := "Mach-O " + bits
	if len(h) >= 16 {
		d += " " + map[uint32]string{1: "object", 2: "executable", 6: "dynamic library", 8: "bundle"}[bo.Uint32(h[12:16])]
	}
	d = strings.TrimSpace(d)
	if c, ok := machoCPUs[bo.Uint32(h[4:8])]; ok {
		d += ", " + c
	}
	return d
}

// Scan implements scan.Format: it reports what the program is and, for an
// APE with a zip appended (a llamafile keeps its GGUF weights and arguments
// there), scans the zip's members too.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	head := make([]byte, min(size, scan.HeadSize))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		return fmt.Errorf("read: %w", err)
	}
	kind, desc := Identify(head)
	sev := scan.SeverityCritical
	if kind == KindShebang || kind == KindJava {
		sev = scan.SeverityHigh
	}
	where := "a file"
	if s.Member() != "" {
		where = "a member of a model artifact"
	}
	s.Report(scan.Finding{RuleID: scan.RuleExecutable, Severity: sev, Offset: 0, Symbol: string(kind),
		Message: fmt.Sprintf("%s is a program, not model data: %s", where, desc)})
	var err error
	if kind == KindAPE && hasZipEnd(r, size) {
		err = archive.Zip{}.Scan(ctx, s, r, size)
	}
	s.SetFormat(string(kind))
	return err
}

// hasZipEnd looks for a zip end-of-central-directory record in the last
// 64 KiB + 22 bytes, where the zip format puts it.
func hasZipEnd(r io.ReaderAt, size int64) bool {
	n := min(size, 65535+22)
	tail := make([]byte, n)
	if m, _ := r.ReadAt(tail, size-n); int64(m) < n {
		return false
	}
	return bytes.LastIndex(tail, []byte("PK\x05\x06")) >= 0
}
