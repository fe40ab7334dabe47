package torch

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// elementSize is the bytes per element of each legacy storage class.
var elementSize = map[string]int64{
	"DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
	"BoolStorage": 1, "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
	"QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1,
}

// IsTarStream reports whether the member of PyTorch's tar format is one
// that mixes pickles with raw data, which ScanTarStream reads.
func IsTarStream(name string) bool { return name == "storages" || name == "tensors" }

// ScanTarStream scans the "storages" or "tensors" member of PyTorch's tar
// format as torch.load reads it: a pickled count, then per entry a pickled
// tuple followed by raw bytes whose length the tuple and a binary header
// give, then (for storages) a pickled list of views. Every pickle is
// scanned; the raw bytes are skipped.
func ScanTarStream(ctx context.Context, s *scan.Session, name string, r io.ReaderAt, size int64) error {
	one := func(off int64, what string) (pickle.Result, error) {
		if off >= size {
			return pickle.Result{}, scan.Malformedf("pytorch tar %s: ends before the %s pickle", name, what)
		}
		res, err := pickle.ScanOne(ctx, s, r, off, size)
		if err != nil {
			return res, fmt.Errorf("pytorch tar %s: %s pickle at %d: %w", name, what, off, err)
		}
		if res.End <= off {
			return res, scan.Malformedf("pytorch tar %s: the %s pickle at %d has no end", name, what, off)
		}
		return res, nil
	}
	res, err := one(0, "count")
	if err != nil {
		return err
	}
	if res.Top.Kind != pickle.KindInt || res.Top.Int < 0 {
		return scan.Malformedf("pytorch tar %s: the count is not a known integer", name)
	}
	count, off := res.Top.Int, res.End
	for i := int64(0); i < count; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := one(off, "entry")
		if err != nil {
			return err
		}
		off = res.End
		if res.Top.Kind != pickle.KindTuple || len(res.Top.Items) != 3 {
			return scan.Malformedf("pytorch tar %s: entry %d is not a (key, ..., ...) tuple", name, i)
		}
		var hdr [8]byte
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return scan.Malformedf("pytorch tar %s: truncated entry %d", name, i)
		}
		switch name {
		case "storages":
			typ := res.Top.Items[2]
			cls := typ.Str[strings.LastIndexByte(typ.Str, '.')+1:]
			el, ok := elementSize[cls]
			if typ.Kind != pickle.KindGlobal || !ok {
				return scan.Malformedf("pytorch tar storages: entry %d has storage type %q", i, typ.Str)
			}
			n := int64(binary.LittleEndian.Uint64(hdr[:]))
			if n < 0 || n > (size-off)/el {
				return scan.Malformedf("pytorch tar storages: entry %d declares %d elements past the end", i, n)
			}
			off += 8 + n*el
		case "tensors":
			ndim := int64(int32(binary.LittleEndian.Uint32(hdr[:4])))
			if ndim < 0 || ndim > 64 {
				return scan.Malformedf("pytorch tar tensors: entry %d has %d dimensions", i, ndim)
			}
			off += 8 + 16*ndim + 8
		}
		if off > size {
			return scan.Malformedf("pytorch tar %s: entry %d runs past the end", name, i)
		}
	}
	if name == "storages" {
		if _, err := one(off, "storage views"); err != nil {
			return err
		}
	}
	return nil
}
