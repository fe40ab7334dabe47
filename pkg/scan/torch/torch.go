// Package torch scans PyTorch's legacy checkpoint format
// (torch.save(..., _use_new_zipfile_serialization=False)): five pickles in a
// row (the magic number, the protocol version, sys_info, the object itself
// with persistent ids for its storages, and the list of storage keys),
// followed by raw storage bytes that torch.load reads with plain file reads,
// never through pickle. The scan reads the pickles and stops there, so a
// multi-gigabyte checkpoint costs a few kilobytes of reading.
//
// The zip format (the default since PyTorch 1.6) and TorchScript archives are
// zips, read by package archive; PyTorch's tar format (before 0.1.10) is a
// tar, also read by package archive.
package torch

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// Legacy is PyTorch's legacy (non-zip) serialization format.
type Legacy struct{}

var _ scan.Format = Legacy{}

// magic is the LONG1 opcode and the little-endian bytes of PyTorch's magic
// number 0x1950a86a20f9469cfc6c.
var magic = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// Name implements scan.Format.
func (Legacy) Name() string { return "pytorch-legacy" }

// Match implements scan.Format: a PROTO opcode, then the magic number as
// the first pickle's only value.
func (Legacy) Match(head []byte, size int64) bool {
	return len(head) >= 2+len(magic)+1 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 &&
		bytes.Equal(head[2:2+len(magic)], magic) && head[2+len(magic)] == '.'
}

// legacyPickles names the pickles torch.load reads, in order.
var legacyPickles = []string{"magic number", "protocol version", "sys_info", "object", "storage keys"}

// Scan implements scan.Format.
func (Legacy) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	var off int64
	for i, what := range legacyPickles {
		if err := ctx.Err(); err != nil {
			return err
		}
		if off >= size {
			return scan.Malformedf("pytorch legacy: the file ends before the %s pickle", what)
		}
		res, err := pickle.ScanOne(ctx, s, r, off, size)
		if err != nil {
			return fmt.Errorf("pytorch legacy %s pickle at %d: %w", what, off, err)
		}
		if res.End <= off {
			// The pickle scanner could not tell where the pickle ends: the
			// rest cannot be located.
			if i < len(legacyPickles)-1 {
				return scan.Malformedf("pytorch legacy: the %s pickle at %d has no end", what, off)
			}
			break
		}
		off = res.End
	}
	// What follows is raw storage data: torch.load never unpickles it.
	return nil
}
