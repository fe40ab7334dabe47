package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/serving"
	"github.com/modelverify/modelverify/pkg/scan/torch"
)

// Tar is a tar archive (POSIX, GNU, PAX or v7), including PyTorch's oldest
// checkpoint format, a tar of sys_info, pickle, storages and tensors, and
// NeMo's .nemo files (model_config.yaml, model_weights.ckpt, artifacts),
// whose config goes to serving.NemoConfig.
type Tar struct{}

var _ scan.Format = Tar{}

// Name implements scan.Format.
func (Tar) Name() string { return "tar" }

// Match implements scan.Format: the ustar magic, or a v7 header whose
// checksum is right.
func (Tar) Match(head []byte, size int64) bool {
	if len(head) < 512 {
		return false
	}
	if bytes.Equal(head[257:262], []byte("ustar")) {
		return true
	}
	if head[0] == 0 {
		return false
	}
	want, err := strconv.ParseUint(strings.TrimRight(strings.TrimLeft(string(head[148:156]), " "), " \x00"), 8, 32)
	if err != nil {
		return false
	}
	var sum uint64
	for i, b := range head[:512] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += uint64(b)
	}
	return sum == want
}

// posReader is a SectionReader whose position tar's skipping (Seek) moves.
type posReader struct{ *io.SectionReader }

// Scan implements scan.Format.
func (Tar) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	sec := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(posReader{sec})
	lim := s.Limits()
	type entry struct {
		name, member string
		pos, size    int64
	}
	var entries []entry
	seen := map[string]int{}
	var names []string
	var readErr error
	// First the member list, so that PyTorch's tar format is known before
	// its members are read.
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return scan.Malformedf("tar: %v", err)
			}
			readErr = fmt.Errorf("%w: tar: %v", scan.ErrMalformed, err)
			break
		}
		if n >= lim.MaxEntries {
			readErr = &scan.LimitError{Limit: "max-entries", Max: int64(lim.MaxEntries)}
			break
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeChar && hdr.Typeflag != tar.TypeGNUSparse && hdr.Typeflag != '\x00' {
			continue // directories, links, devices: nothing to load
		}
		names = append(names, hdr.Name)
		member := hdr.Name
		seen[hdr.Name]++
		if seen[hdr.Name] > 1 {
			member = fmt.Sprintf("%s#%d", hdr.Name, seen[hdr.Name])
			s.Report(scan.Finding{RuleID: scan.RuleArchive, Severity: scan.SeverityMedium, Member: member, Offset: -1,
				Message: fmt.Sprintf("duplicate member name %q: extraction keeps the last; every copy is scanned", hdr.Name)})
		}
		if hdr.Typeflag == tar.TypeGNUSparse || hdr.Size < 0 {
			// Sparse data is not contiguous in the archive: stream it now.
			if _, err := s.NestedStream(ctx, member, tr); err != nil {
				return err
			}
			continue
		}
		pos, err := sec.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		n := hdr.Size
		if pos+n > size {
			s.ReportError(member, scan.Malformedf("tar: member %q extends past the end of the file", hdr.Name))
			n = max(size-pos, 0)
		}
		entries = append(entries, entry{hdr.Name, member, pos, n})
	}
	isTorch := isTorchTar(names)
	isNemo := !isTorch && serving.IsNemo(names)
	switch {
	case isTorch:
		s.SetFormat("pytorch-tar")
	case isNemo:
		s.SetFormat("nemo")
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		sr := io.NewSectionReader(r, e.pos, e.size)
		if isTorch && torch.IsTarStream(e.name) {
			if err := torch.ScanTarStream(ctx, s.Child(e.member), e.name, sr, e.size); err != nil {
				s.ReportError(e.member, err)
			}
			continue
		}
		if isNemo && serving.IsNemoConfig(e.name) {
			// Its first _target_ may lie past the head that dispatch sniffs.
			if err := (serving.NemoConfig{}).Scan(ctx, s.Child(e.member), sr, e.size); err != nil {
				s.ReportError(e.member, err)
			}
			continue
		}
		if _, err := s.Nested(ctx, e.member, sr, e.size); err != nil {
			return err
		}
	}
	return readErr
}

// isTorchTar reports whether the members are those of torch.save's tar
// format (PyTorch before 0.1.10).
func isTorchTar(names []string) bool {
	want := map[string]bool{"sys_info": false, "pickle": false, "storages": false, "tensors": false}
	for _, n := range names {
		if _, ok := want[n]; ok {
			want[n] = true
		}
	}
	for _, ok := range want {
		if !ok {
			return false
		}
	}
	return true
}
