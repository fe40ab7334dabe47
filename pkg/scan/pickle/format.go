package pickle

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Format is the bare pickle stream format. Its Match accepts anything, so it
// goes last in the dispatcher's list; Scan decides from the opcodes whether
// the content is a pickle at all.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "pickle" }

// Match implements scan.Format.
func (Format) Match(head []byte, size int64) bool { return size > 0 }

// Scan implements scan.Format: it scans every pickle in the stream, one after
// another as a loader calling load() repeatedly would, and whatever follows
// the last STOP. Content that is not a pickle returns scan.ErrUnsupported.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	m := newVM(ctx, s, r, 0, size)
	err := m.run()
	return m.finish(err, true)
}

// finish publishes the findings and decides whether the stream was a pickle:
// one that starts with PROTO, reached a STOP, or imported a valid Python name
// is; text that merely begins with an opcode-like byte is not.
func (m *vm) finish(err error, sniff bool) error {
	isPickle := m.startedWithProto || m.completed > 0 || m.goodNames > 0
	if sniff && !isPickle && err != nil && !errors.Is(err, scan.ErrLimit) && m.ctx.Err() == nil {
		return scan.ErrUnsupported
	}
	for _, f := range m.pending {
		m.s.Report(f)
	}
	m.pending = nil
	return err
}

// Result describes one pickle scanned by ScanOne.
type Result struct {
	// End is the offset just past the pickle's STOP opcode, or where reading
	// stopped on an error.
	End int64
	// Top is the value the pickle returns, as far as it can be known
	// statically.
	Top Value
}

// ScanOne scans the single pickle that starts at off, reporting findings to
// s, and returns where it ended. Container formats use it for streams that mix
// pickles with other data (PyTorch legacy files).
func ScanOne(ctx context.Context, s *scan.Session, r io.ReaderAt, off, size int64) (Result, error) {
	m := newVM(ctx, s, r, off, size)
	v, err := m.one()
	if err == nil {
		m.completed++
	}
	err = m.finish(err, false)
	return Result{End: m.r.offset(), Top: m.export(v, 0)}, err
}

// export converts an emulated value to the public Value.
func (m *vm) export(v val, depth int) Value {
	out := Value{}
	switch v.k {
	case kNone:
		out.Kind = KindNone
	case kBool:
		out.Kind, out.Int = KindBool, v.i
	case kInt:
		out.Kind, out.Int = KindInt, v.i
	case kFloat:
		out.Kind = KindFloat
	case kStr:
		out.Kind = KindStr
		out.Str, _ = m.text(v)
	case kBytes:
		out.Kind = KindBytes
		out.Str, _ = m.text(v)
	case kTuple, kList, kDict, kSet:
		out.Kind = map[kind]Kind{kTuple: KindTuple, kList: KindList, kDict: KindDict, kSet: KindSet}[v.k]
		if depth < 4 {
			for _, it := range m.itemsOf(v) {
				out.Items = append(out.Items, m.export(it, depth+1))
			}
		}
	case kGlobal:
		out.Kind, out.Str = KindGlobal, v.p.g.symbol()
	}
	return out
}

// ScanLoads scans data as pickle.loads reads it: the one pickle at its
// start. A loader that calls pickle.loads on values that may or may not be
// pickles (PyTables on string attributes) gets ErrUnsupported, and no
// findings, for data that is not one.
func ScanLoads(ctx context.Context, s *scan.Session, data []byte) error {
	m := newVM(ctx, s, bytes.NewReader(data), 0, int64(len(data)))
	_, err := m.one()
	if err == nil {
		m.completed++
	}
	return m.finish(err, true)
}
