package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// PyTables stores a VLArray of ObjectAtom (pandas' fixed format uses one
// for an object column) as a one-dimensional dataset of variable-length
// byte sequences, each row a pickle that is loaded when the row is read.
// The dataset is marked by the attribute PSEUDOATOM = "object". Its rows
// are global heap references (length, collection address, index) stored
// contiguously or in chunks indexed by a v1 B-tree, optionally deflated.

// errFilter reports a chunk filter this reader does not apply.
type errFilter struct {
	path string
	id   uint16
}

func (e errFilter) Error() string {
	return fmt.Sprintf("hdf5: %s: filter %d is not applied by this reader; its rows are not read", e.path, e.id)
}

// isObjectVLArray reports whether attrs mark a PyTables object VLArray.
func isObjectVLArray(attrs []Attribute) bool {
	for _, a := range attrs {
		if a.Name == "PSEUDOATOM" && string(a.Value) == "object" {
			return true
		}
	}
	return false
}

// vlRows calls fn with each non-empty row of the variable-length dataset o.
func (f *File) vlRows(o *Object, fn func(row int64, v []byte) error) error {
	var dt, ds, layout, filters []byte
	for _, m := range o.msgs {
		switch m.typ {
		case 0x01:
			ds = m.data
		case 0x03:
			dt = m.data
		case 0x08:
			layout = m.data
		case 0x0B:
			filters = m.data
		}
	}
	if dt == nil || ds == nil || layout == nil {
		return scan.Malformedf("hdf5: %s: object array without datatype, dataspace or layout", o.Path)
	}
	if len(dt) < 8 || dt[0]&0x0f != 9 {
		return scan.Malformedf("hdf5: %s: object array whose datatype is not variable-length", o.Path)
	}
	rows, err := f.elements(ds)
	if err != nil {
		return err
	}
	elem := int64(4 + f.offSize + 4)
	deflate, err := f.deflateOnly(o.Path, filters)
	if err != nil {
		return err
	}
	each := func(first int64, data []byte) error {
		for j := int64(0); (j+1)*elem <= int64(len(data)); j++ {
			row := first + j
			if row >= rows {
				break
			}
			e := data[j*elem:]
			length := int64(binary.LittleEndian.Uint32(e))
			if length == 0 {
				continue
			}
			v, err := f.globalHeapObject(f.uint(e[4:], f.offSize), binary.LittleEndian.Uint32(e[4+f.offSize:]), length)
			if err != nil {
				return err
			}
			if err := fn(row, v); err != nil {
				return err
			}
		}
		return nil
	}
	if len(layout) < 2 || layout[0] != 3 {
		return scan.Malformedf("hdf5: %s: data layout version %d not supported", o.Path, layout[0])
	}
	switch layout[1] {
	case 0: // compact
		if len(layout) < 4 {
			return scan.Malformedf("hdf5: %s: short layout message", o.Path)
		}
		n := int(binary.LittleEndian.Uint16(layout[2:]))
		if len(layout) < 4+n {
			return scan.Malformedf("hdf5: %s: short layout message", o.Path)
		}
		return each(0, layout[4:4+n])
	case 1: // contiguous
		if len(layout) < 2+f.offSize+f.lenSize {
			return scan.Malformedf("hdf5: %s: short layout message", o.Path)
		}
		a := f.uint(layout[2:], f.offSize)
		if a == ^uint64(0)>>(64-8*f.offSize) {
			return nil // never written
		}
		off, err := f.addr(a)
		if err != nil {
			return err
		}
		size := f.uint(layout[2+f.offSize:], f.lenSize)
		if size > uint64(f.size) || size > uint64(rows*elem) {
			return scan.Malformedf("hdf5: %s: contiguous data of %d bytes", o.Path, size)
		}
		if err := f.charge(int64(size)); err != nil {
			return err
		}
		b, err := f.read(off, int(size))
		if err != nil {
			return err
		}
		return each(0, b)
	case 2: // chunked
		if len(layout) < 3+f.offSize {
			return scan.Malformedf("hdf5: %s: short layout message", o.Path)
		}
		dims := int(layout[2])
		if dims != 2 || len(layout) < 3+f.offSize+4*dims {
			return scan.Malformedf("hdf5: %s: chunked layout of %d dimensions for a one-dimensional array", o.Path, dims)
		}
		bt := f.uint(layout[3:], f.offSize)
		chunkRows := int64(binary.LittleEndian.Uint32(layout[3+f.offSize:]))
		if int64(binary.LittleEndian.Uint32(layout[7+f.offSize:])) != elem || chunkRows == 0 {
			return scan.Malformedf("hdf5: %s: bad chunk shape", o.Path)
		}
		if bt == ^uint64(0)>>(64-8*f.offSize) {
			return nil
		}
		return f.chunks(o.Path, bt, chunkRows*elem, deflate, each)
	}
	return scan.Malformedf("hdf5: %s: layout class %d", o.Path, layout[1])
}

// deflateOnly reads a filter pipeline message: it accepts none or deflate
// alone (PyTables' zlib) and rejects any other filter.
func (f *File) deflateOnly(path string, d []byte) (bool, error) {
	if d == nil {
		return false, nil
	}
	if len(d) < 2 {
		return false, scan.Malformedf("hdf5: %s: short filter pipeline message", path)
	}
	version, n := d[0], int(d[1])
	p := 2
	if version == 1 {
		p = 8
	} else if version != 2 {
		return false, scan.Malformedf("hdf5: %s: filter pipeline version %d", path, version)
	}
	deflate := false
	for i := 0; i < n; i++ {
		if len(d) < p+2 {
			return false, scan.Malformedf("hdf5: %s: short filter pipeline message", path)
		}
		id := binary.LittleEndian.Uint16(d[p:])
		if id != 1 {
			return false, errFilter{path, id}
		}
		var nameLen int
		if version == 1 || id >= 256 {
			if len(d) < p+4 {
				return false, scan.Malformedf("hdf5: %s: short filter pipeline message", path)
			}
			nameLen = int(binary.LittleEndian.Uint16(d[p+2:]))
			p += 2
		}
		p += 2
		if len(d) < p+4 {
			return false, scan.Malformedf("hdf5: %s: short filter pipeline message", path)
		}
		nv := int(binary.LittleEndian.Uint16(d[p+2:]))
		p += 4
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7
			if nv%2 == 1 {
				nv++
			}
		}
		p += nameLen + 4*nv
		deflate = true
	}
	return deflate, nil
}

// chunks visits the chunks of a one-dimensional chunked dataset whose v1
// B-tree is at addr; each chunk holds chunkBytes bytes once decompressed.
func (f *File) chunks(path string, addr uint64, chunkBytes int64, deflate bool, each func(first int64, data []byte) error) error {
	start, err := f.addr(addr)
	if err != nil {
		return err
	}
	keySize := int64(8 + 8*2)
	seen := map[int64]bool{}
	nodes := []int64{start}
	for len(nodes) > 0 {
		off := nodes[len(nodes)-1]
		nodes = nodes[:len(nodes)-1]
		if seen[off] {
			return scan.Malformedf("hdf5: %s: B-tree loop at %d", path, off)
		}
		seen[off] = true
		if len(seen) > f.lim.MaxEntries {
			return &scan.LimitError{Limit: "max-entries", Max: int64(f.lim.MaxEntries)}
		}
		h, err := f.read(off, 8+2*f.offSize)
		if err != nil {
			return err
		}
		if string(h[:4]) != "TREE" || h[4] != 1 {
			return scan.Malformedf("hdf5: %s: no chunk B-tree node at %d", path, off)
		}
		level := h[5]
		used := int64(binary.LittleEndian.Uint16(h[6:]))
		size := int64(len(h)) + used*(keySize+int64(f.offSize)) + keySize
		if err := f.charge(size); err != nil {
			return err
		}
		b, err := f.read(off, int(min(size, f.size+1)))
		if err != nil {
			return err
		}
		for i := int64(0); i < used; i++ {
			k := b[int64(len(h))+i*(keySize+int64(f.offSize)):]
			c, err := f.addr(f.uint(k[keySize:], f.offSize))
			if err != nil {
				return err
			}
			if level > 0 {
				nodes = append(nodes, c)
				continue
			}
			stored := int64(binary.LittleEndian.Uint32(k))
			mask := binary.LittleEndian.Uint32(k[4:])
			first := int64(binary.LittleEndian.Uint64(k[8:]))
			if stored > f.size-c || first < 0 {
				return scan.Malformedf("hdf5: %s: chunk of %d bytes at %d outside the file", path, stored, c)
			}
			if err := f.charge(stored); err != nil {
				return err
			}
			data, err := f.read(c, int(stored))
			if err != nil {
				return err
			}
			if deflate && mask&1 == 0 {
				if err := f.charge(chunkBytes); err != nil {
					return err
				}
				zr, err := zlib.NewReader(bytes.NewReader(data))
				if err != nil {
					return scan.Malformedf("hdf5: %s: chunk at %d: %v", path, c, err)
				}
				var out bytes.Buffer
				if _, err := io.Copy(&out, io.LimitReader(zr, chunkBytes)); err != nil {
					return scan.Malformedf("hdf5: %s: chunk at %d: %v", path, c, err)
				}
				data = out.Bytes()
			}
			if err := each(first, data); err != nil {
				return err
			}
		}
	}
	return nil
}
