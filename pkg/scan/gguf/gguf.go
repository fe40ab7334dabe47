// Package gguf scans GGUF model files (llama.cpp, Ollama, llama-cpp-python).
//
// A GGUF file is a header (magic, version, tensor and key/value counts), the
// metadata key/values, the tensor infos, and the aligned tensor data. The
// scanner reads every key/value of every type, arrays of arrays included,
// and every tensor info, checking each declared length and count against
// the bytes that remain in the file before reading or skipping it: nothing
// is allocated from a size the file declares. Tensor data ranges must lie
// inside the file.
//
// The metadata can carry Jinja chat templates (tokenizer.chat_template and
// its named variants tokenizer.chat_template.<name>, listed by
// tokenizer.chat_templates). Loaders render them, some outside Jinja's
// sandbox (CVE-2024-34359), so each template goes through package jinja.
package gguf

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/jinja"
)

// Format is the GGUF format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "gguf" }

// Match implements scan.Format: the magic "GGUF" and version 1 to 3, in
// either byte order.
func (Format) Match(head []byte, size int64) bool {
	if len(head) < 8 || string(head[:4]) != "GGUF" {
		return false
	}
	_, ok := byteOrder(head[4:8])
	return ok
}

func byteOrder(v []byte) (binary.ByteOrder, bool) {
	if le := binary.LittleEndian.Uint32(v); le >= 1 && le <= 3 {
		return binary.LittleEndian, true
	}
	if be := binary.BigEndian.Uint32(v); be >= 1 && be <= 3 {
		return binary.BigEndian, true
	}
	return nil, false
}

// Value types of the GGUF specification.
const (
	typeUint8   = 0
	typeInt8    = 1
	typeUint16  = 2
	typeInt16   = 3
	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9
	typeUint64  = 10
	typeInt64   = 11
	typeFloat64 = 12
)

// fixedSize is the encoded size of scalar types, 0 for string and array.
func fixedSize(t uint32) (int64, bool) {
	switch t {
	case typeUint8, typeInt8, typeBool:
		return 1, true
	case typeUint16, typeInt16:
		return 2, true
	case typeUint32, typeInt32, typeFloat32:
		return 4, true
	case typeUint64, typeInt64, typeFloat64:
		return 8, true
	case typeString, typeArray:
		return 0, true
	}
	return 0, false
}

// maxKeyLen bounds a key: the specification caps keys at 65535 bytes.
const maxKeyLen = 65535

// maxDims is GGML_MAX_DIMS.
const maxDims = 4

// Header is what Parse learns about a file.
type Header struct {
	Version   uint32
	Tensors   uint64
	KeyValues uint64
	Alignment uint64
	// DataStart is the offset of the tensor data.
	DataStart int64
	// Templates are the chat templates, by key (array entries get [i]).
	Templates []Template
}

// Template is a chat template found in the metadata.
type Template struct {
	Key    string
	Offset int64
	Text   string
}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	h, err := Parse(ctx, r, size, s.Limits())
	if h != nil {
		for _, t := range h.Templates {
			jinja.Report(s, "", t.Offset, t.Key, t.Text)
		}
	}
	return err
}

// Parse reads and validates a GGUF file's header, metadata and tensor infos.
// The header it returns holds what was read before an error, so that
// templates found before a malformed byte are still judged.
func Parse(ctx context.Context, ra io.ReaderAt, size int64, lim scan.Limits) (*Header, error) {
	p := &parser{br: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10), size: size, lim: lim}
	h := &Header{Alignment: 32}
	err := p.parse(ctx, h)
	return h, err
}

type parser struct {
	br   *bufio.Reader
	pos  int64
	size int64
	bo   binary.ByteOrder
	v1   bool
	lim  scan.Limits
	buf  [8]byte
}

func (p *parser) remaining() int64 { return p.size - p.pos }

func (p *parser) read(n int) ([]byte, error) {
	if int64(n) > p.remaining() {
		return nil, scan.Malformedf("gguf: truncated at offset %d (need %d bytes, %d left)", p.pos, n, p.remaining())
	}
	b := p.buf[:n]
	if _, err := io.ReadFull(p.br, b); err != nil {
		return nil, fmt.Errorf("gguf: read at offset %d: %w", p.pos, err)
	}
	p.pos += int64(n)
	return b, nil
}

func (p *parser) u32() (uint32, error) {
	b, err := p.read(4)
	if err != nil {
		return 0, err
	}
	return p.bo.Uint32(b), nil
}

func (p *parser) u64() (uint64, error) {
	b, err := p.read(8)
	if err != nil {
		return 0, err
	}
	return p.bo.Uint64(b), nil
}

// count reads a length or count: 32 bits in version 1, 64 after.
func (p *parser) count() (uint64, error) {
	if p.v1 {
		v, err := p.u32()
		return uint64(v), err
	}
	return p.u64()
}

func (p *parser) countSize() int64 {
	if p.v1 {
		return 4
	}
	return 8
}

func (p *parser) skip(n int64) error {
	if n < 0 || n > p.remaining() {
		return scan.Malformedf("gguf: %d bytes declared at offset %d, %d left in the file", n, p.pos, p.remaining())
	}
	for n > 0 {
		k := min(n, 1<<30)
		d, err := p.br.Discard(int(k))
		p.pos += int64(d)
		n -= int64(d)
		if err != nil {
			return fmt.Errorf("gguf: skip at offset %d: %w", p.pos, err)
		}
	}
	return nil
}

// str reads a string of at most max bytes, or skips it when keep is false.
func (p *parser) str(keep bool, max int64, what string) (string, error) {
	start := p.pos
	n, err := p.count()
	if err != nil {
		return "", err
	}
	if n > uint64(p.remaining()) {
		return "", scan.Malformedf("gguf: %s at offset %d declares %d bytes, %d left in the file", what, start, n, p.remaining())
	}
	if !keep {
		return "", p.skip(int64(n))
	}
	if int64(n) > max {
		return "", &scan.LimitError{Limit: "max-header-bytes", Max: max}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.br, b); err != nil {
		return "", fmt.Errorf("gguf: read at offset %d: %w", p.pos, err)
	}
	p.pos += int64(n)
	return string(b), nil
}

func (p *parser) parse(ctx context.Context, h *Header) error {
	p.bo = binary.LittleEndian
	magic, err := p.read(4)
	if err != nil {
		return err
	}
	if string(magic) != "GGUF" {
		return scan.Malformedf("gguf: bad magic %q", magic)
	}
	vb, err := p.read(4)
	if err != nil {
		return err
	}
	bo, ok := byteOrder(vb)
	if !ok {
		return scan.Malformedf("gguf: unsupported version bytes % x", vb)
	}
	p.bo = bo
	h.Version = bo.Uint32(vb)
	p.v1 = h.Version == 1
	if h.Tensors, err = p.count(); err != nil {
		return err
	}
	if h.KeyValues, err = p.count(); err != nil {
		return err
	}
	// Each key/value takes at least a length, a type and one byte; each
	// tensor info a length, a dimension count, a type and an offset.
	if h.KeyValues > uint64(p.remaining())/uint64(p.countSize()+5) {
		return scan.Malformedf("gguf: %d key/values cannot fit in %d bytes", h.KeyValues, p.remaining())
	}
	if h.Tensors > uint64(p.remaining())/uint64(2*p.countSize()+8) {
		return scan.Malformedf("gguf: %d tensor infos cannot fit in %d bytes", h.Tensors, p.remaining())
	}
	for i := uint64(0); i < h.KeyValues; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := p.keyValue(h); err != nil {
			return err
		}
		if p.pos > p.lim.MaxHeaderBytes {
			return &scan.LimitError{Limit: "max-header-bytes", Max: p.lim.MaxHeaderBytes}
		}
	}
	return p.tensorInfos(ctx, h)
}

// isTemplateKey reports whether a key holds chat templates.
func isTemplateKey(k string) bool {
	return k == "tokenizer.chat_template" || strings.HasPrefix(k, "tokenizer.chat_template.") ||
		k == "tokenizer.chat_templates"
}

func (p *parser) keyValue(h *Header) error {
	start := p.pos
	key, err := p.str(true, maxKeyLen, "key")
	if err != nil {
		var le *scan.LimitError
		if errors.As(err, &le) {
			return scan.Malformedf("gguf: key at offset %d longer than %d bytes", start, maxKeyLen)
		}
		return err
	}
	typ, err := p.u32()
	if err != nil {
		return err
	}
	valueAt := p.pos
	switch {
	case isTemplateKey(key) && typ == typeString:
		t, err := p.str(true, p.lim.MaxHeaderBytes, "chat template")
		if err != nil {
			return err
		}
		h.Templates = append(h.Templates, Template{Key: key, Offset: valueAt, Text: t})
		return nil
	case isTemplateKey(key) && typ == typeArray:
		et, err := p.u32()
		if err != nil {
			return err
		}
		if et != typeString {
			return p.array(et, 1)
		}
		n, err := p.count()
		if err != nil {
			return err
		}
		if n > uint64(p.remaining())/uint64(p.countSize()) {
			return scan.Malformedf("gguf: array %q at offset %d declares %d strings, %d bytes left", key, valueAt, n, p.remaining())
		}
		for i := uint64(0); i < n; i++ {
			at := p.pos
			t, err := p.str(true, p.lim.MaxHeaderBytes, "chat template")
			if err != nil {
				return err
			}
			// tokenizer.chat_templates lists names; judge anything that
			// looks like a template.
			if strings.Contains(t, "{{") || strings.Contains(t, "{%") {
				h.Templates = append(h.Templates, Template{Key: fmt.Sprintf("%s[%d]", key, i), Offset: at, Text: t})
			}
		}
		return nil
	case key == "general.alignment":
		if typ != typeUint32 {
			return scan.Malformedf("gguf: general.alignment has type %d, want uint32", typ)
		}
		a, err := p.u32()
		if err != nil {
			return err
		}
		if a == 0 || a&(a-1) != 0 {
			return scan.Malformedf("gguf: general.alignment %d is not a power of two", a)
		}
		h.Alignment = uint64(a)
		return nil
	}
	return p.value(typ, 0)
}

// value skips one value of type typ, validating its lengths.
func (p *parser) value(typ uint32, depth int) error {
	size, ok := fixedSize(typ)
	if !ok {
		return scan.Malformedf("gguf: unknown value type %d at offset %d", typ, p.pos-4)
	}
	switch typ {
	case typeString:
		_, err := p.str(false, 0, "string")
		return err
	case typeArray:
		et, err := p.u32()
		if err != nil {
			return err
		}
		return p.array(et, depth+1)
	}
	return p.skip(size)
}

// array skips an array's count and elements; the element type is read.
func (p *parser) array(et uint32, depth int) error {
	if depth > p.lim.MaxNesting {
		return &scan.LimitError{Limit: "max-nesting", Max: int64(p.lim.MaxNesting)}
	}
	start := p.pos
	n, err := p.count()
	if err != nil {
		return err
	}
	size, ok := fixedSize(et)
	if !ok {
		return scan.Malformedf("gguf: array at offset %d has unknown element type %d", start, et)
	}
	min := size
	switch et {
	case typeString:
		min = p.countSize()
	case typeArray:
		min = 4 + p.countSize()
	}
	if n > uint64(p.remaining())/uint64(min) {
		return scan.Malformedf("gguf: array at offset %d declares %d elements, %d bytes left", start, n, p.remaining())
	}
	if size > 0 {
		return p.skip(int64(n) * size)
	}
	for i := uint64(0); i < n; i++ {
		if err := p.value(et, depth); err != nil {
			return err
		}
	}
	return nil
}

// ggmlType is a tensor type's block size and bytes per block.
type ggmlType struct{ block, bytes int64 }

// ggmlTypes by type id; ids removed from ggml are absent.
var ggmlTypes = map[uint32]ggmlType{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, 9: {32, 36},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	16: {256, 66}, 17: {256, 74}, 18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110},
	22: {256, 82}, 23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 34: {256, 54}, 35: {256, 66}, 39: {32, 17},
}

type tensorRange struct {
	name      string
	off, size int64
	known     bool
}

func (p *parser) tensorInfos(ctx context.Context, h *Header) error {
	names := map[string]bool{}
	var ranges []tensorRange
	for i := uint64(0); i < h.Tensors; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		at := p.pos
		name, err := p.str(true, maxKeyLen, "tensor name")
		if err != nil {
			return err
		}
		if names[name] {
			return scan.Malformedf("gguf: duplicate tensor %q at offset %d", name, at)
		}
		names[name] = true
		nd, err := p.u32()
		if err != nil {
			return err
		}
		if nd > maxDims {
			return scan.Malformedf("gguf: tensor %q has %d dimensions, at most %d", name, nd, maxDims)
		}
		ne := int64(1)
		var ne0 int64
		for d := uint32(0); d < nd; d++ {
			v, err := p.count()
			if err != nil {
				return err
			}
			if v > 1<<62 || (v > 0 && ne > (1<<62)/int64(v)) {
				return scan.Malformedf("gguf: tensor %q has an element count that overflows", name)
			}
			if d == 0 {
				ne0 = int64(v)
			}
			ne *= int64(v)
		}
		typ, err := p.u32()
		if err != nil {
			return err
		}
		off, err := p.u64()
		if err != nil {
			return err
		}
		if off > uint64(p.size) {
			return scan.Malformedf("gguf: tensor %q at offset %d beyond the file", name, off)
		}
		if off%h.Alignment != 0 {
			return scan.Malformedf("gguf: tensor %q offset %d not a multiple of the alignment %d", name, off, h.Alignment)
		}
		tr := tensorRange{name: name, off: int64(off)}
		if gt, ok := ggmlTypes[typ]; ok {
			if nd > 0 && ne0%gt.block != 0 {
				return scan.Malformedf("gguf: tensor %q row of %d elements is not a multiple of the block size %d", name, ne0, gt.block)
			}
			if ne/gt.block > (1<<62)/gt.bytes {
				return scan.Malformedf("gguf: tensor %q size overflows", name)
			}
			tr.size, tr.known = ne/gt.block*gt.bytes, true
		} else if typ > 255 {
			return scan.Malformedf("gguf: tensor %q has type %d", name, typ)
		}
		ranges = append(ranges, tr)
		if p.pos > p.lim.MaxHeaderBytes {
			return &scan.LimitError{Limit: "max-header-bytes", Max: p.lim.MaxHeaderBytes}
		}
	}
	a := int64(h.Alignment)
	h.DataStart = (p.pos + a - 1) / a * a
	if h.Tensors > 0 && h.DataStart > p.size {
		return scan.Malformedf("gguf: tensor data would start at %d, past the end of the %d-byte file", h.DataStart, p.size)
	}
	data := p.size - h.DataStart
	for _, t := range ranges {
		if t.off > data || (t.known && t.size > data-t.off) {
			return scan.Malformedf("gguf: tensor %q data [%d, +%d) lies outside the %d bytes of tensor data", t.name, t.off, t.size, data)
		}
	}
	return nil
}
