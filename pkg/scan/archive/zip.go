package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ulikunitz/xz/lzma"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/compress"
	"github.com/modelverify/modelverify/pkg/scan/torch"
)

// Zip is a zip archive: a PyTorch checkpoint (torch.save), a TorchScript
// archive, a numpy .npz, a Keras file, or any other zip.
type Zip struct{}

var _ scan.Format = Zip{}

// Name implements scan.Format.
func (Zip) Name() string { return "zip" }

// Match implements scan.Format: a local header or, for an empty zip, an end
// record at the start.
func (Zip) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte(sigLocal)) || bytes.HasPrefix(head, []byte(sigEnd))
}

// Scan implements scan.Format.
func (Zip) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return scanZip(ctx, s, r, size)
}

// zipKind is what a zip holds, by its member names.
type zipKind struct {
	format string // "pytorch-zip", "torchscript", "numpy-npz" or "zip"
	root   string // the PyTorch archive's root folder, with a trailing "/"
}

func classify(d *zipDir) zipKind {
	names := map[string]bool{}
	for _, e := range d.Entries {
		if !e.Hidden {
			names[e.Name] = true
		}
	}
	// PyTorch writes "<root>/data.pkl" (root is the file's stem, or
	// "archive"); its reader accepts any root name.
	for _, e := range d.Entries {
		root, rest, ok := strings.Cut(e.Name, "/")
		if !ok || rest != "data.pkl" || e.Hidden {
			continue
		}
		k := zipKind{format: "pytorch-zip", root: root + "/"}
		// torch.load hands an archive with constants.pkl to torch.jit.load.
		if names[k.root+"constants.pkl"] {
			k.format = "torchscript"
		}
		return k
	}
	npz := len(names) > 0
	for n := range names {
		if !strings.HasSuffix(n, ".npy") {
			npz = false
			break
		}
	}
	if npz {
		return zipKind{format: "numpy-npz"}
	}
	return zipKind{format: "zip"}
}

// rawMember reports whether a PyTorch archive's loader reads the member as
// raw bytes (tensor storages, version strings, TorchScript source) rather
// than as a pickle. Such members are scanned only when their content is a
// pickle anyway: a hostile file may hide one there for another loader.
func (k zipKind) rawMember(name string) bool {
	if k.root == "" || !strings.HasPrefix(name, k.root) {
		return false
	}
	rest := name[len(k.root):]
	switch {
	case strings.HasPrefix(rest, "data/"), strings.HasPrefix(rest, "code/"),
		strings.HasPrefix(rest, ".data/"), strings.HasPrefix(rest, "constants/"):
		return true
	case rest == "version", rest == "byteorder":
		return true
	}
	return false
}

// looksPickle reports whether head starts like a pickle of protocol 2 or
// later (PROTO opcode), which is what torch.save and pickle.dump write.
func looksPickle(head []byte) bool {
	return len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5
}

func scanZip(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	lim := s.Limits()
	d, err := readZip(r, size, lim.MaxEntries)
	if d == nil {
		if errors.Is(err, errNoZip) {
			return scan.Malformedf("zip: no central directory and no local header")
		}
		return err
	}
	if err != nil {
		s.ReportError("", err)
	}
	if d.NoDirectory {
		// Neither PyTorch's reader (miniz) nor CPython's zipfile opens a zip
		// without an end record: a truncated download or a file cut to make
		// scanners and loaders disagree. Its members, found by their local
		// headers, are still scanned (streaming unzippers read them), so that
		// something dangerous in them decides the verdict.
		s.ReportError("", scan.Malformedf("zip has no end of central directory record (torch.load and zipfile refuse it): members found by their local headers were scanned"))
	}
	kind := classify(d)
	s.SetFormat(kind.format)
	if kind.format == "torchscript" {
		s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityInfo, Member: kind.root + "code", Offset: -1,
			Message: "TorchScript archive: code/ holds model source that TorchScript's compiler runs when the archive is loaded; its pickles are read by TorchScript's own unpickler, which imports no Python"})
	}
	seen := map[string]int{}
	var out int64
	encrypted := 0
	for i := range d.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &d.Entries[i]
		seen[e.Name]++
		member := e.Name
		if seen[e.Name] > 1 {
			member = fmt.Sprintf("%s#%d", e.Name, seen[e.Name])
			s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Member: member, Offset: e.Local,
				Message: fmt.Sprintf("duplicate member name %q: PyTorch loads the first, other tools the last; every copy is scanned", e.Name)})
		}
		if e.Hidden {
			s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Member: member, Offset: e.Local,
				Message: "local header that the central directory does not list: a member hidden from directory-based readers"})
		}
		if e.Flags&1 != 0 {
			if encrypted == 0 {
				s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Member: member, Offset: e.Local,
					Message: "member is marked encrypted (password-protected zip): PyTorch ignores the flag and reads it as plain data, and so does the scan; a truly encrypted member cannot be analysed"})
			}
			encrypted++
		}
		if strings.HasSuffix(e.Name, "/") && e.CompSize == 0 {
			continue // a directory
		}
		n, err := scanMember(ctx, s, r, size, kind, e, member)
		if err != nil {
			return err
		}
		out += n
		if out > 1<<20 && out > lim.MaxRatio*max(size, 1) {
			return &scan.LimitError{Limit: "max-ratio", Max: lim.MaxRatio}
		}
	}
	return nil
}

// scanMember scans one member and returns how many bytes it expanded to.
func scanMember(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64, kind zipKind, e *zipEntry, member string) (int64, error) {
	var data int64
	if e.Hidden {
		data = e.Local + localLen + int64(len(e.Name))
		var h [localLen]byte
		if _, err := r.ReadAt(h[:], e.Local); err == nil {
			data = e.Local + localLen + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
		}
	} else {
		var localName string
		var err error
		data, localName, err = localData(r, size, e)
		if err != nil {
			s.ReportError(member, err)
			return 0, nil
		}
		if localName != e.Name {
			s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Member: member, Offset: e.Local,
				Message: fmt.Sprintf("local header names the member %q, the central directory %q", localName, e.Name)})
		}
	}
	comp := e.CompSize
	if data+comp > size || comp < 0 {
		s.ReportError(member, scan.Malformedf("zip: member %q extends past the end of the file", e.Name))
		comp = max(size-data, 0)
	}
	sec := io.NewSectionReader(r, data, comp)
	tsPickle := kind.format == "torchscript" && strings.HasPrefix(e.Name, kind.root) && torch.IsTorchScriptPickle(e.Name[len(kind.root):])
	if e.Method == 0 {
		if tsPickle {
			return comp, torch.ScanTorchScriptPickle(ctx, s, member, sec)
		}
		if kind.rawMember(e.Name) {
			head := make([]byte, 2)
			if n, _ := sec.ReadAt(head, 0); !looksPickle(head[:n]) {
				return 0, nil
			}
		}
		_, err := s.Nested(ctx, member, sec, comp)
		return comp, err
	}
	in := &compress.CountingReader{R: sec}
	var zr io.Reader
	switch e.Method {
	case 8:
		fr := flate.NewReader(bufio.NewReaderSize(in, 64<<10))
		defer fr.Close()
		zr = fr
	case 12:
		zr = bzip2.NewReader(bufio.NewReaderSize(in, 64<<10))
	case 14:
		lr, err := zipLZMA(bufio.NewReaderSize(in, 64<<10), e, s)
		if err != nil {
			s.ReportError(member, scan.Malformedf("zip: lzma member %q: %v", e.Name, err))
			return 0, nil
		}
		zr = lr
	case 93:
		zd, err := compress.NewZstdReader(bufio.NewReaderSize(in, 64<<10), s)
		if err != nil {
			s.ReportError(member, scan.Malformedf("zip: zstd member %q: %v", e.Name, err))
			return 0, nil
		}
		defer zd.Close()
		zr = zd
	default:
		s.ReportError(member, fmt.Errorf("%w: zip compression method %d of %q", scan.ErrMalformed, e.Method, e.Name))
		return 0, nil
	}
	if tsPickle {
		rr := compress.NewRatioReader(zr, in, s)
		return rr.Out(), torch.ScanTorchScriptPickle(ctx, s, member, rr)
	}
	if kind.rawMember(e.Name) {
		br := bufio.NewReader(zr)
		head, _ := br.Peek(2)
		if !looksPickle(head) {
			return 0, nil
		}
		zr = br
	}
	rr := compress.NewRatioReader(zr, in, s)
	_, err := compress.Decompress(ctx, s, member, rr, in)
	return rr.Out(), err
}

// zipLZMA opens a zip lzma member: a 2-byte version, a 2-byte properties
// size and the 5-byte properties, then the raw stream.
func zipLZMA(r io.Reader, e *zipEntry, s *scan.Session) (io.Reader, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(h[2:]) != 5 {
		return nil, errors.New("unexpected properties size")
	}
	alone := make([]byte, 13)
	copy(alone, h[4:9])
	size := uint64(e.UncompSize)
	if e.Flags&2 != 0 {
		size = ^uint64(0) // an end marker ends the stream
	}
	binary.LittleEndian.PutUint64(alone[5:], size)
	cfg := lzma.ReaderConfig{DictCap: int(min(s.Limits().MaxWindowBytes, 1<<31-1))}
	return cfg.NewReader(io.MultiReader(bytes.NewReader(alone), r))
}
