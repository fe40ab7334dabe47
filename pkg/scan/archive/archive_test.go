package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/counting"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
)

// evil is a protocol 2 pickle of os.system("echo"), as pickle.dumps writes
// it on Linux.
var evil = []byte("\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.")

// clean is a protocol 2 pickle of {"a": 1}.
var clean = []byte("\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.")

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "containers", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scanBytes(t testing.TB, b []byte, lim scan.Limits) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Limits: lim})
	return sc.ScanReaderAt(context.Background(), "t", bytes.NewReader(b), int64(len(b)))
}

type member struct {
	name   string
	data   []byte
	method uint16
}

func makeZip(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func findings(tg scan.Target, rule string) []scan.Finding {
	var out []scan.Finding
	for _, f := range tg.Findings {
		if f.RuleID == rule {
			out = append(out, f)
		}
	}
	return out
}

func hasDanger(tg scan.Target, member string) bool {
	for _, f := range tg.Findings {
		if f.Severity >= scan.SeverityHigh && f.Member == member {
			return true
		}
	}
	return false
}

func TestZipFormatsAreNamedByContent(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"a torch.save checkpoint", "benign/state_dict.pt", "pytorch-zip"},
		{"a checkpoint with optimizer state", "benign/checkpoint_optimizer.pt", "pytorch-zip"},
		{"a TorchScript archive", "benign/torchscript.pt", "torchscript"},
		{"an npz", "benign/plain.npz", "numpy-npz"},
		{"a compressed npz", "benign/object_compressed.npz", "numpy-npz"},
		{"a zip of anything", "malicious/zip_hidden_local_header.zip", "zip"},
		{"a checkpoint with a renamed root folder", "malicious/torch_zip_root_renamed.pt", "pytorch-zip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := scanBytes(t, fixture(t, c.file), scan.Limits{})
			if tg.Format != c.want {
				t.Errorf("format %q, want %q", tg.Format, c.want)
			}
		})
	}
}

func TestZipTricksAreScannedAsPyTorchReadsThem(t *testing.T) {
	cases := []struct {
		name, file string
		member     string // where the payload must be found
		rule       string // an MV-ARCHIVE finding that must be reported, "" for none
	}{
		{"the first of two data.pkl", "malicious/torch_zip_duplicate_first.pt", "archive/data.pkl", ""},
		{"the second of two data.pkl", "malicious/torch_zip_duplicate_second.pt", "archive/data.pkl#2", "duplicate member name"},
		{"a pickle in another member", "malicious/torch_zip_extra_member.pt", "archive/extra/evil.pkl", ""},
		{"a pickle in a storage member", "malicious/torch_zip_pickle_in_storage.pt", "archive/data/0", ""},
		{"bad CRCs and the encryption flag", "malicious/torch_zip_bad_crc_flags.pt", "archive/data.pkl", "marked encrypted"},
		{"any root folder name", "malicious/torch_zip_root_renamed.pt", "weird root!/data.pkl", ""},
		{"a local header the directory hides", "malicious/zip_hidden_local_header.zip", "hidden.pkl", "does not list"},
		{"a pickle in a TorchScript archive", "malicious/torchscript_reduce.pt", "archive/constants.pkl", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := scanBytes(t, fixture(t, c.file), scan.Limits{})
			if !hasDanger(tg, c.member) {
				t.Errorf("no dangerous finding in %s: %+v", c.member, tg.Findings)
			}
			if c.rule != "" {
				ok := false
				for _, f := range findings(tg, scan.RuleArchive) {
					ok = ok || strings.Contains(f.Message, c.rule)
				}
				if !ok {
					t.Errorf("no %s finding saying %q: %+v", scan.RuleArchive, c.rule, tg.Findings)
				}
			}
		})
	}
}

func TestZipWithoutEndRecordIsReadByLocalHeaders(t *testing.T) {
	z := makeZip(t, member{name: "a.txt", data: []byte("hello")}, member{name: "b.pkl", data: evil, method: zip.Deflate})
	cut := z[:bytes.LastIndex(z, []byte("PK\x01\x02"))]
	cut = cut[:bytes.Index(cut, []byte("PK\x01\x02"))]
	tg := scanBytes(t, cut, scan.Limits{})
	if !hasDanger(tg, "b.pkl") {
		t.Errorf("payload not found without a central directory: %+v", tg.Findings)
	}
	if tg.Verdict != scan.VerdictDangerous {
		t.Errorf("verdict %s, want dangerous: a payload wins over the missing end record", tg.Verdict)
	}
}

// torch.load and zipfile both refuse a zip without an end record, so a clean
// one is malformed (exit 2), not clean with a finding (exit 0).
func TestZipWithoutEndRecordIsMalformed(t *testing.T) {
	z := makeZip(t, member{name: "archive/data.pkl", data: clean}, member{name: "archive/version", data: []byte("3\n")})
	for _, c := range []struct {
		name string
		cut  []byte
	}{
		{"end record cut", z[:bytes.LastIndex(z, []byte("PK\x05\x06"))]},
		{"central directory cut", z[:bytes.Index(z, []byte("PK\x01\x02"))]},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := scanBytes(t, c.cut, scan.Limits{})
			if tg.Verdict != scan.VerdictMalformed || tg.Format != "pytorch-zip" {
				t.Fatalf("verdict %s, format %s, want malformed pytorch-zip: %+v", tg.Verdict, tg.Format, tg.Findings)
			}
			fs := findings(tg, scan.RuleMalformed)
			if len(fs) != 1 || !strings.Contains(fs[0].Message, "no end of central directory record") {
				t.Errorf("want one MV-MALFORMED finding naming the end record: %+v", tg.Findings)
			}
		})
	}
	if tg := scanBytes(t, z, scan.Limits{}); tg.Verdict != scan.VerdictClean {
		t.Errorf("the uncut zip: verdict %s, want clean: %+v", tg.Verdict, tg.Findings)
	}
}

func TestZipPolyglotIsScannedAsBoth(t *testing.T) {
	for _, c := range []struct{ name, file, member string }{
		{"payload in the zip", "malicious/polyglot_zip_payload.pkl", "[appended zip]/archive/data.pkl"},
		{"payload in the pickle", "malicious/polyglot_pickle_payload.pkl", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := scanBytes(t, fixture(t, c.file), scan.Limits{})
			if !hasDanger(tg, c.member) {
				t.Errorf("no dangerous finding in %q: %+v", c.member, tg.Findings)
			}
			if len(findings(tg, scan.RuleArchive)) == 0 {
				t.Errorf("polyglot not reported: %+v", tg.Findings)
			}
		})
	}
}

// bomb returns a zip whose one member inflates to n zero bytes, with the
// sizes in its headers replaced by small lies.
func bomb(t testing.TB, n int64, lie bool) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	zero := make([]byte, 1<<20)
	for i := int64(0); i < n>>20; i++ {
		fw.Write(zero)
	}
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate,
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(n)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	b := buf.Bytes()
	if lie {
		for _, sig := range []string{"PK\x03\x04", "PK\x01\x02"} {
			i := bytes.Index(b, []byte(sig))
			off := 22
			if sig == "PK\x01\x02" {
				off = 24
			}
			binary.LittleEndian.PutUint32(b[i+off:], 100)
		}
	}
	return b
}

func TestZipBombIsRejectedWithBoundedReadsAndMemory(t *testing.T) {
	for _, lie := range []bool{false, true} {
		t.Run(fmt.Sprintf("sizes lie %v", lie), func(t *testing.T) {
			b := bomb(t, 300<<20, lie)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := counting.NewReaderAt(bytes.NewReader(b))
			sc := scan.MustNew(scan.Options{Formats: all.Formats()})
			tg := sc.ScanReaderAt(context.Background(), "t", r, int64(len(b)))
			runtime.ReadMemStats(&after)
			// The bomb is stopped by a limit, not read to its end: the
			// scanner reads the small file a bounded number of times and
			// never holds the expanded bytes.
			if n := r.Read(); n > 8*int64(len(b)) {
				t.Errorf("read %d bytes of a %d-byte file", n, len(b))
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			if alloc > 256<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if tg.Verdict != scan.VerdictMalformed {
				t.Errorf("verdict %s", tg.Verdict)
			}
			lim := findings(tg, scan.RuleLimit)
			if len(lim) == 0 || !strings.Contains(lim[0].Message, "max-ratio") {
				t.Errorf("no max-ratio finding: %+v", tg.Findings)
			}
			t.Logf("%d-byte bomb rejected: %d bytes read, %d MiB allocated", len(b), r.Read(), alloc>>20)
		})
	}
}

func TestZipLimits(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		var ms []member
		for i := range 20 {
			ms = append(ms, member{name: fmt.Sprintf("f%d.txt", i), data: []byte("x")})
		}
		tg := scanBytes(t, makeZip(t, ms...), scan.Limits{MaxEntries: 10})
		if l := findings(tg, scan.RuleLimit); len(l) == 0 || !strings.Contains(l[0].Message, "max-entries") {
			t.Errorf("no max-entries finding: %+v", tg.Findings)
		}
	})
	t.Run("depth", func(t *testing.T) {
		b := evil
		for i := range 12 {
			b = makeZip(t, member{name: fmt.Sprintf("level%d.zip", i), data: b})
		}
		tg := scanBytes(t, b, scan.Limits{})
		if l := findings(tg, scan.RuleLimit); len(l) == 0 || !strings.Contains(l[0].Message, "max-depth") {
			t.Errorf("no max-depth finding: %+v", tg.Findings)
		}
		if tg.Verdict != scan.VerdictMalformed {
			t.Errorf("verdict %s", tg.Verdict)
		}
	})
	t.Run("expanded bytes", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
		tg := scanBytes(t, makeZip(t, member{name: "a.bin", data: big, method: zip.Deflate}), scan.Limits{MaxExpandedBytes: 1 << 20})
		if l := findings(tg, scan.RuleLimit); len(l) == 0 {
			t.Errorf("no limit finding: %+v", tg.Findings)
		}
	})
}

func TestZipNestsInsideOtherContainers(t *testing.T) {
	tg := scanBytes(t, fixture(t, "malicious/nested.tar.gz"), scan.Limits{})
	if !hasDanger(tg, "[gzip]/models/bundle.zip/inner/model.pt/archive/data.pkl") {
		t.Errorf("payload not found with its path: %+v", tg.Findings)
	}
}

func TestTarMembersAreScannedInPlace(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range []member{{name: "sys_info", data: clean}, {name: "pickle", data: evil}, {name: "storages", data: clean}, {name: "tensors", data: clean}} {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg})
		tw.Write(m.data)
	}
	tw.Close()
	tg := scanBytes(t, buf.Bytes(), scan.Limits{})
	if tg.Format != "pytorch-tar" {
		t.Errorf("format %s", tg.Format)
	}
	if !hasDanger(tg, "pickle") || hasDanger(tg, "sys_info") {
		t.Errorf("findings: %+v", tg.Findings)
	}
}

func TestSevenZip(t *testing.T) {
	if tg := scanBytes(t, fixture(t, "malicious/archive.7z"), scan.Limits{}); !hasDanger(tg, "mvfix.pkl") {
		t.Errorf("findings: %+v", tg.Findings)
	}
	if tg := scanBytes(t, fixture(t, "benign/archive.7z"), scan.Limits{}); tg.Verdict != scan.VerdictClean {
		t.Errorf("benign 7z: %s %+v", tg.Verdict, tg.Findings)
	}
}

func seeds(f *testing.F, files ...string) {
	for _, n := range files {
		f.Add(fixture(f, n))
	}
}

func fuzzScan(t *testing.T, b []byte) {
	sc := scan.MustNew(scan.Options{Formats: all.Formats(), Limits: scan.Limits{MaxExpandedBytes: 64 << 20}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg := sc.ScanReaderAt(ctx, "f", bytes.NewReader(b), int64(len(b)))
	if tg.Verdict == "" {
		t.Fatal("no verdict")
	}
}

func FuzzZip(f *testing.F) {
	seeds(f, "benign/state_dict.pt", "benign/plain.npz", "benign/object_compressed.npz", "malicious/zip_hidden_local_header.zip",
		"malicious/torch_zip_duplicate_first.pt", "benign/torchscript.pt", "malicious/polyglot_zip_payload.pkl")
	dir, loaded := zipLoaderFixtures(f)
	for n := range loaded {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(fuzzScan)
}

func FuzzTar(f *testing.F) {
	seeds(f, "malicious/plain.tar")
	// NeMo archives: the config is handed to the NeMo format by name.
	nemo, _ := filepath.Glob("../../../fixtures/formats/nemo/*.nemo")
	for _, p := range nemo {
		if b, err := os.ReadFile(p); err == nil && !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			f.Add(b)
		}
	}
	f.Fuzz(fuzzScan)
}

func FuzzSevenZip(f *testing.F) {
	seeds(f, "malicious/archive.7z", "benign/archive.7z")
	f.Fuzz(fuzzScan)
}
