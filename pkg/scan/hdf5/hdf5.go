// Package hdf5 reads the root-group attributes of HDF5 files, which is where
// legacy Keras .h5 models keep their model_config and training_config JSON,
// and hands that JSON to package keras. It also walks the group tree and
// scans as pickles what PyTables unpickles on read: attribute values that
// look pickled, and the rows of object VLArrays (pandas' fixed-format object
// columns); see walk.go and vlarray.go.
//
// This is a minimal pure-Go reader rather than a cgo binding to libhdf5:
// the scanner needs only the root object's attributes, a few hundred lines
// cover every layout that h5py and libhdf5 write for them (superblock
// versions 0 to 3, object header versions 1 and 2 with continuation blocks,
// attribute message versions 1 to 3, fixed-length and variable-length
// string data through the global heap), and a hostile file then meets only
// bounds-checked Go code with no allocation from a declared size, instead of
// a C library whose own parser is the attack surface (libhdf5 has a long
// CVE history). The binary also stays static. Attributes kept in dense
// storage (a fractal heap: more than eight attributes with the latest file
// format, which Keras does not write) are not decoded: the file is then
// reported as not analysed completely rather than guessed at, after a search
// of its raw bytes for a Lambda's markers.
package hdf5

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/keras"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// Signature is the HDF5 format signature.
const Signature = "\x89HDF\r\n\x1a\n"

// Format is the HDF5 format.
type Format struct{}

var _ scan.Format = Format{}

// Name implements scan.Format.
func (Format) Name() string { return "hdf5" }

// Match implements scan.Format: the signature at offset 0 or 512 (a user
// block; larger user blocks are beyond the sniffed head).
func (Format) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte(Signature)) ||
		(len(head) >= 520 && string(head[512:520]) == Signature)
}

// configAttributes are the root attributes that hold Keras JSON.
var configAttributes = map[string]bool{"model_config": true, "training_config": true}

// Scan implements scan.Format.
func (Format) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	f, err := Open(r, size, s.Limits())
	if err != nil {
		return err
	}
	attrs, err := f.RootAttributes()
	if errors.Is(err, errDense) {
		// The config cannot be located, but a Lambda's markers are plain
		// text in the heap's direct blocks: look for them in the raw bytes,
		// so that a dangerous file is still reported as dangerous.
		if serr := rawLambdaSearch(ctx, s, r, size); serr != nil {
			return serr
		}
	}
	for _, a := range attrs {
		if a.Name == "model_config" {
			s.SetFormat("keras-h5")
		}
		v := bytes.TrimLeft(a.Value, " \t\r\n")
		if configAttributes[a.Name] || (len(v) > 0 && v[0] == '{' && bytes.Contains(v, []byte(`"class_name"`))) {
			if _, aerr := keras.AnalyzeConfig(ctx, s, "@"+a.Name, bytes.NewReader(a.Value)); aerr != nil {
				s.ReportError("@"+a.Name, aerr)
			}
		}
	}
	if werr := scanTree(ctx, s, f); err == nil {
		err = werr
	} else if werr != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// scanTree walks every object and scans what PyTables unpickles when the
// file is read: attribute values that look pickled, and the rows of
// object VLArrays (see vlarray.go).
func scanTree(ctx context.Context, s *scan.Session, f *File) error {
	return f.Walk(func(o *Object) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		attrs, aerr := f.Attributes(o)
		for _, a := range attrs {
			if !pickledAttribute(a.Value) {
				continue
			}
			member := o.Path + "@" + a.Name
			if o.Path == "/" {
				member = "@" + a.Name
			}
			// PyTables calls pickle.loads on the value: scan it as that
			// reads it; a value that is no pickle is left alone, as
			// PyTables leaves it.
			if err := pickle.ScanLoads(ctx, s.Child(member), a.Value); err != nil && !errors.Is(err, scan.ErrUnsupported) {
				if errors.Is(err, scan.ErrLimit) || ctx.Err() != nil {
					return err
				}
				s.ReportError(member, err)
			}
		}
		if isObjectVLArray(attrs) {
			err := f.vlRows(o, func(row int64, v []byte) error {
				// ObjectAtom.fromarray is pickle.loads of the row.
				member := fmt.Sprintf("%s[%d]", o.Path, row)
				err := pickle.ScanLoads(ctx, s.Child(member), v)
				if err != nil && !errors.Is(err, scan.ErrUnsupported) && !errors.Is(err, scan.ErrLimit) && ctx.Err() == nil {
					s.ReportError(member, err)
					return nil
				}
				if errors.Is(err, scan.ErrUnsupported) {
					return nil
				}
				return err
			})
			var ef errFilter
			if errors.As(err, &ef) {
				s.ReportError(o.Path, err)
			} else if err != nil {
				return err
			}
		}
		if errors.Is(aerr, errDense) {
			if o.Path != "/" { // the root's was reported by Scan
				s.ReportError(o.Path, scan.Malformedf("hdf5: attributes of %s in dense storage (fractal heap) are not read", o.Path))
			}
		} else if aerr != nil {
			return aerr
		}
		return nil
	})
}

// pickledAttribute reports whether PyTables unpickles an attribute value on
// read: a byte string that ends with "." other than "0." (AttributeSet's
// test, which it applies to scalar fixed-length strings; here to every
// single string value, which only widens what is scanned).
func pickledAttribute(v []byte) bool {
	v = bytes.TrimRight(v, "\x00")
	return len(v) > 0 && v[len(v)-1] == '.' && string(v) != "0."
}

// errDense reports root attributes kept in dense storage, which this reader
// does not decode: the file cannot be analysed completely.
var errDense = scan.Malformedf("hdf5: root attributes in dense storage (fractal heap) are not read")

// Attribute is a string attribute of the root group.
type Attribute struct {
	Name  string
	Value []byte
}

// File is an open HDF5 file.
type File struct {
	r        io.ReaderAt
	size     int64
	base     int64
	offSize  int
	lenSize  int
	rootAddr uint64
	lim      scan.Limits
	budget   int64            // bytes of attribute data still allowed in memory
	gcol     map[int64][]byte // global heap collections read so far
	reads    int              // metadata reads so far, against maxReads
}

// maxReads bounds the metadata reads for one file, whatever the structure
// (B-trees shared by many groups, long runs of empty nodes): a real file
// needs a few per object.
const maxReads = 1 << 18

// Open reads the superblock.
func Open(r io.ReaderAt, size int64, lim scan.Limits) (*File, error) {
	f := &File{r: r, size: size, lim: lim, budget: lim.MaxHeaderBytes}
	for _, at := range []int64{0, 512, 1024, 2048} {
		sig, err := f.read(at, 8)
		if err == nil && string(sig) == Signature {
			f.base = at
			return f, f.superblock(at)
		}
	}
	return nil, scan.Malformedf("hdf5: no signature")
}

func (f *File) read(off int64, n int) ([]byte, error) {
	if f.reads++; f.reads > maxReads {
		return nil, &scan.LimitError{Limit: "max-entries", Max: maxReads}
	}
	if off < 0 || n < 0 || off > f.size || int64(n) > f.size-off {
		return nil, scan.Malformedf("hdf5: read of %d bytes at offset %d outside the %d-byte file", n, off, f.size)
	}
	b := make([]byte, n)
	if m, err := f.r.ReadAt(b, off); m < n {
		return nil, fmt.Errorf("hdf5: read at offset %d: %w", off, err)
	}
	return b, nil
}

func (f *File) uint(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// addr converts a file address to an offset, checking it.
func (f *File) addr(a uint64) (int64, error) {
	if a == ^uint64(0)>>(64-8*f.offSize) || a > uint64(f.size) {
		return 0, scan.Malformedf("hdf5: address %#x outside the file", a)
	}
	off := f.base + int64(a)
	if off > f.size {
		return 0, scan.Malformedf("hdf5: address %#x outside the file", a)
	}
	return off, nil
}

func (f *File) superblock(at int64) error {
	b, err := f.read(at, int(min(128, f.size-at)))
	if err != nil {
		return err
	}
	if len(b) < 12 {
		return scan.Malformedf("hdf5: truncated superblock")
	}
	version := b[8]
	switch version {
	case 0, 1:
		if len(b) < 24 {
			return scan.Malformedf("hdf5: truncated superblock")
		}
		f.offSize, f.lenSize = int(b[13]), int(b[14])
		if !validSize(f.offSize) || !validSize(f.lenSize) {
			return scan.Malformedf("hdf5: bad offset/length sizes %d/%d", f.offSize, f.lenSize)
		}
		p := 24
		if version == 1 {
			p += 4
		}
		// base, free-space, end-of-file, driver addresses, then the root
		// symbol table entry: link name offset, object header address.
		need := p + 4*f.offSize + 2*f.offSize
		if len(b) < need {
			return scan.Malformedf("hdf5: truncated superblock")
		}
		f.rootAddr = f.uint(b[p+5*f.offSize:], f.offSize)
	case 2, 3:
		f.offSize, f.lenSize = int(b[9]), int(b[10])
		if !validSize(f.offSize) || !validSize(f.lenSize) {
			return scan.Malformedf("hdf5: bad offset/length sizes %d/%d", f.offSize, f.lenSize)
		}
		p := 12
		if len(b) < p+4*f.offSize {
			return scan.Malformedf("hdf5: truncated superblock")
		}
		f.rootAddr = f.uint(b[p+3*f.offSize:], f.offSize)
	default:
		return scan.Malformedf("hdf5: superblock version %d not supported", version)
	}
	return nil
}

// charge counts n bytes of metadata read into memory against
// Limits.MaxHeaderBytes.
func (f *File) charge(n int64) error {
	if n > f.budget {
		return &scan.LimitError{Limit: "max-header-bytes", Max: f.lim.MaxHeaderBytes}
	}
	f.budget -= n
	return nil
}

func validSize(n int) bool { return n == 2 || n == 4 || n == 8 }

// message is one object header message.
type message struct {
	typ  uint16
	data []byte
}

// maxMessages bounds the messages read from one object header.
const maxMessages = 1 << 16

// RootAttributes returns the root group's attributes whose values are
// strings (fixed- or variable-length). Attributes of other types are
// skipped.
func (f *File) RootAttributes() ([]Attribute, error) {
	off, err := f.addr(f.rootAddr)
	if err != nil {
		return nil, err
	}
	msgs, err := f.objectHeader(off)
	if err != nil {
		return nil, err
	}
	return f.attributes(msgs)
}

func (f *File) attributes(msgs []message) ([]Attribute, error) {
	var out []Attribute
	for _, m := range msgs {
		switch m.typ {
		case 0x0C:
			a, ok, err := f.attribute(m.data)
			if err != nil {
				return out, err
			}
			if ok {
				out = append(out, a)
			}
		case 0x15: // attribute info: dense storage if its heap address is set
			if dense, err := f.hasDenseAttributes(m.data); err != nil {
				return out, err
			} else if dense {
				return out, errDense
			}
		}
	}
	return out, nil
}

func (f *File) hasDenseAttributes(d []byte) (bool, error) {
	if len(d) < 2 {
		return false, scan.Malformedf("hdf5: short attribute info message")
	}
	p := 2
	if d[1]&1 != 0 {
		p += 2
	}
	if len(d) < p+f.offSize {
		return false, scan.Malformedf("hdf5: short attribute info message")
	}
	heap := f.uint(d[p:], f.offSize)
	return heap != ^uint64(0)>>(64-8*f.offSize), nil
}

// objectHeader reads the messages of the object header at off, following
// continuation blocks.
func (f *File) objectHeader(off int64) ([]message, error) {
	sig, err := f.read(off, 4)
	if err != nil {
		return nil, err
	}
	if string(sig) == "OHDR" {
		return f.objectHeaderV2(off)
	}
	h, err := f.read(off, 16)
	if err != nil {
		return nil, err
	}
	if h[0] != 1 {
		return nil, scan.Malformedf("hdf5: object header version %d at %d", h[0], off)
	}
	n := int(binary.LittleEndian.Uint16(h[2:]))
	size := int64(binary.LittleEndian.Uint32(h[8:]))
	type block struct{ off, size int64 }
	blocks := []block{{off + 16, size}}
	seen := map[int64]bool{}
	var msgs []message
	for len(blocks) > 0 && len(msgs) < n {
		if len(blocks) > maxMessages || len(msgs) > maxMessages {
			return nil, scan.Malformedf("hdf5: object header with too many messages")
		}
		bl := blocks[0]
		blocks = blocks[1:]
		if err := f.charge(bl.size); err != nil {
			return nil, err
		}
		data, err := f.read(bl.off, int(min(bl.size, f.size)))
		if err != nil {
			return nil, err
		}
		for p := 0; p+8 <= len(data) && len(msgs) < n; {
			typ := binary.LittleEndian.Uint16(data[p:])
			sz := int(binary.LittleEndian.Uint16(data[p+2:]))
			p += 8
			if p+sz > len(data) {
				return nil, scan.Malformedf("hdf5: message of %d bytes runs past its header block at %d", sz, bl.off)
			}
			m := message{typ: typ, data: data[p : p+sz]}
			p += sz
			p = (p + 7) &^ 7
			msgs = append(msgs, m)
			if typ == 0x10 {
				c, err := f.continuation(m.data, seen)
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, block(c))
			}
		}
	}
	return msgs, nil
}

type cont struct{ off, size int64 }

func (f *File) continuation(d []byte, seen map[int64]bool) (cont, error) {
	if len(d) < f.offSize+f.lenSize {
		return cont{}, scan.Malformedf("hdf5: short continuation message")
	}
	off, err := f.addr(f.uint(d, f.offSize))
	if err != nil {
		return cont{}, err
	}
	size := f.uint(d[f.offSize:], f.lenSize)
	if seen[off] {
		return cont{}, scan.Malformedf("hdf5: object header continuation loop at %d", off)
	}
	seen[off] = true
	if size > uint64(f.size-off) {
		return cont{}, scan.Malformedf("hdf5: continuation block of %d bytes at %d outside the file", size, off)
	}
	return cont{off, int64(size)}, nil
}

func (f *File) objectHeaderV2(off int64) ([]message, error) {
	h, err := f.read(off, int(min(f.size-off, 48)))
	if err != nil {
		return nil, err
	}
	if len(h) < 7 || h[4] != 2 {
		return nil, scan.Malformedf("hdf5: bad version 2 object header at %d", off)
	}
	flags := h[5]
	p := 6
	if flags&0x20 != 0 {
		p += 16
	}
	if flags&0x10 != 0 {
		p += 4
	}
	width := 1 << (flags & 3)
	if len(h) < p+width {
		return nil, scan.Malformedf("hdf5: truncated object header at %d", off)
	}
	chunk0 := int64(f.uint(h[p:], width))
	p += width
	type block struct{ off, size int64 }
	blocks := []block{{off + int64(p), chunk0}}
	seen := map[int64]bool{}
	var msgs []message
	hdr := 4
	if flags&0x04 != 0 {
		hdr = 6
	}
	for first := true; len(blocks) > 0; first = false {
		if len(msgs) > maxMessages || len(blocks) > maxMessages {
			return nil, scan.Malformedf("hdf5: object header with too many messages")
		}
		bl := blocks[0]
		blocks = blocks[1:]
		start := bl.off
		size := bl.size
		if !first {
			sig, err := f.read(bl.off, 4)
			if err != nil {
				return nil, err
			}
			if string(sig) != "OCHK" {
				return nil, scan.Malformedf("hdf5: continuation block at %d without OCHK", bl.off)
			}
			start, size = bl.off+4, bl.size-8 // signature and checksum
		}
		if size < 0 || size > f.size {
			return nil, scan.Malformedf("hdf5: bad object header chunk size %d", size)
		}
		if err := f.charge(size); err != nil {
			return nil, err
		}
		data, err := f.read(start, int(size))
		if err != nil {
			return nil, err
		}
		for q := 0; q+hdr <= len(data); {
			typ := uint16(data[q])
			sz := int(binary.LittleEndian.Uint16(data[q+1:]))
			q += hdr
			if q+sz > len(data) {
				return nil, scan.Malformedf("hdf5: message of %d bytes runs past its chunk at %d", sz, start)
			}
			m := message{typ: typ, data: data[q : q+sz]}
			q += sz
			msgs = append(msgs, m)
			if typ == 0x10 {
				c, err := f.continuation(m.data, seen)
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, block(c))
			}
		}
	}
	return msgs, nil
}

// attribute decodes an attribute message whose datatype is a string.
func (f *File) attribute(d []byte) (Attribute, bool, error) {
	bad := func(why string) (Attribute, bool, error) {
		return Attribute{}, false, scan.Malformedf("hdf5: attribute message: %s", why)
	}
	if len(d) < 8 {
		return bad("too short")
	}
	version := d[0]
	nameLen := int(binary.LittleEndian.Uint16(d[2:]))
	dtLen := int(binary.LittleEndian.Uint16(d[4:]))
	dsLen := int(binary.LittleEndian.Uint16(d[6:]))
	p := 8
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		p = 9
	default:
		return bad(fmt.Sprintf("version %d", version))
	}
	if p+pad(nameLen) > len(d) {
		return bad("name runs past the message")
	}
	name := string(bytes.TrimRight(d[p:p+nameLen], "\x00"))
	p += pad(nameLen)
	if p+pad(dtLen) > len(d) || dtLen < 8 {
		return bad("datatype runs past the message")
	}
	dt := d[p : p+dtLen]
	p += pad(dtLen)
	if p+pad(dsLen) > len(d) {
		return bad("dataspace runs past the message")
	}
	ds := d[p : p+dsLen]
	p += pad(dsLen)
	data := d[p:]
	n, err := f.elements(ds)
	if err != nil {
		return Attribute{}, false, err
	}
	class := dt[0] & 0x0f
	elemSize := int64(binary.LittleEndian.Uint32(dt[4:]))
	switch class {
	case 3: // fixed-length string
		if n != 1 {
			return Attribute{}, false, nil
		}
		if elemSize > int64(len(data)) {
			return bad(fmt.Sprintf("%q: %d-byte string in %d bytes", name, elemSize, len(data)))
		}
		return Attribute{Name: name, Value: bytes.TrimRight(data[:elemSize], "\x00 ")}, true, nil
	case 9: // variable-length; type 1 in the class bits is a string
		if dt[1]&0x0f != 1 || n != 1 {
			return Attribute{}, false, nil
		}
		if len(data) < 4+f.offSize+4 {
			return bad(fmt.Sprintf("%q: short variable-length reference", name))
		}
		length := int64(binary.LittleEndian.Uint32(data))
		heap := f.uint(data[4:], f.offSize)
		index := binary.LittleEndian.Uint32(data[4+f.offSize:])
		v, err := f.globalHeapObject(heap, index, length)
		if err != nil {
			return Attribute{}, false, err
		}
		return Attribute{Name: name, Value: v}, true, nil
	}
	return Attribute{}, false, nil
}

// elements returns the number of elements a dataspace message describes.
func (f *File) elements(ds []byte) (int64, error) {
	if len(ds) < 4 {
		return 0, scan.Malformedf("hdf5: short dataspace message")
	}
	version, rank, flags := ds[0], int(ds[1]), ds[2]
	p := 8
	switch version {
	case 1:
	case 2:
		p = 4
		if ds[3] == 2 { // null dataspace
			return 0, nil
		}
	default:
		return 0, scan.Malformedf("hdf5: dataspace version %d", version)
	}
	_ = flags
	n := int64(1)
	for i := 0; i < rank; i++ {
		if p+f.lenSize > len(ds) {
			return 0, scan.Malformedf("hdf5: short dataspace message")
		}
		d := f.uint(ds[p:], f.lenSize)
		p += f.lenSize
		if d > 1<<40 || (d > 0 && n > (1<<40)/int64(d)) {
			return 0, scan.Malformedf("hdf5: dataspace too large")
		}
		n *= int64(d)
	}
	return n, nil
}

// globalHeapObject reads object index of the global heap collection at addr.
func (f *File) globalHeapObject(addr uint64, index uint32, length int64) ([]byte, error) {
	off, err := f.addr(addr)
	if err != nil {
		return nil, err
	}
	h, err := f.read(off, 8+f.lenSize)
	if err != nil {
		return nil, err
	}
	if c, ok := f.gcol[off]; ok {
		return heapObject(c, len(h), f.lenSize, index, length)
	}
	if string(h[:4]) != "GCOL" {
		return nil, scan.Malformedf("hdf5: no global heap collection at %d", off)
	}
	csize := int64(f.uint(h[8:], f.lenSize))
	if csize < int64(len(h)) || csize > f.size-off {
		return nil, scan.Malformedf("hdf5: global heap collection of %d bytes at %d outside the file", csize, off)
	}
	if err := f.charge(csize); err != nil {
		return nil, err
	}
	c, err := f.read(off, int(csize))
	if err != nil {
		return nil, err
	}
	if f.gcol == nil {
		f.gcol = map[int64][]byte{}
	}
	f.gcol[off] = c
	return heapObject(c, len(h), f.lenSize, index, length)
}

// heapObject finds object index in the global heap collection c, whose
// objects start at p.
func heapObject(c []byte, p, lenSize int, index uint32, length int64) ([]byte, error) {
	f := &File{} // for its uint decoder
	for p+8+lenSize <= len(c) {
		idx := binary.LittleEndian.Uint16(c[p:])
		size := int64(f.uint(c[p+8:], lenSize))
		p += 8 + lenSize
		if idx == 0 {
			break // free space
		}
		if size < 0 || size > int64(len(c)-p) {
			return nil, scan.Malformedf("hdf5: global heap object %d runs past its collection", idx)
		}
		if uint32(idx) == index {
			if length > size {
				return nil, scan.Malformedf("hdf5: variable-length string of %d bytes in a %d-byte heap object", length, size)
			}
			return c[p : p+int(length)], nil
		}
		p += int((size + 7) &^ 7)
	}
	return nil, scan.Malformedf("hdf5: global heap object %d not found", index)
}

// lambdaMarkers are byte strings that only a Keras Lambda config holds.
var lambdaMarkers = [][]byte{[]byte(`"__lambda__"`), []byte(`"class_name": "Lambda"`), []byte(`"class_name":"Lambda"`), []byte(`"function_type": "lambda"`)}

// rawLambdaSearch streams the file looking for Lambda markers.
func rawLambdaSearch(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<20)
	const overlap = 64
	buf := make([]byte, 0, 1<<20+overlap)
	var off int64
	chunk := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(br, chunk)
		buf = append(buf, chunk[:n]...)
		for _, m := range lambdaMarkers {
			if i := bytes.Index(buf, m); i >= 0 {
				s.Report(scan.Finding{RuleID: scan.RuleKerasLambda, Severity: scan.SeverityCritical, Offset: off + int64(i),
					Symbol: "Lambda", Message: "Keras Lambda layer marker in attribute data this reader cannot decode (dense storage): the model carries Python bytecode"})
				return nil
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hdf5: read: %w", err)
		}
		keep := min(len(buf), overlap)
		off += int64(len(buf) - keep)
		buf = append(buf[:0], buf[len(buf)-keep:]...)
	}
}
