package hdf5

import (
	"bytes"
	"encoding/binary"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Object is one object of the group tree, reached by the path of the first
// link that leads to it.
type Object struct {
	Path string
	Off  int64
	msgs []message
}

// errDenseLinks reports a group whose links are kept in dense storage (a
// fractal heap and a v2 B-tree), which this reader does not decode.
var errDenseLinks = scan.Malformedf("hdf5: group links in dense storage (fractal heap) are not read")

// Walk visits every object reachable from the root group, parents before
// children, each once (a second hard link to an object, or a link back up
// the tree, is not followed again). Groups in the original format (a
// symbol table: a v1 B-tree of symbol table nodes naming children in a
// local heap) and in the newer one (link messages in the object header) are
// both read; soft and external links are not followed. At most
// Limits.MaxEntries objects are visited. fn's error stops the walk. The
// error returned is the first problem met; objects visited before it have
// been passed to fn.
func (f *File) Walk(fn func(o *Object) error) error {
	root, err := f.addr(f.rootAddr)
	if err != nil {
		return err
	}
	seen := map[int64]bool{root: true}
	stack := []Object{{Path: "/", Off: root}}
	var deferred error
	for n := 0; len(stack) > 0; n++ {
		if n >= f.lim.MaxEntries {
			return &scan.LimitError{Limit: "max-entries", Max: int64(f.lim.MaxEntries)}
		}
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		msgs, err := f.objectHeader(o.Off)
		if err != nil {
			return err
		}
		o.msgs = msgs
		if err := fn(&o); err != nil {
			return err
		}
		var kids []child
		for _, m := range msgs {
			switch m.typ {
			case 0x11: // symbol table
				if len(m.data) < 2*f.offSize {
					return scan.Malformedf("hdf5: short symbol table message in %s", o.Path)
				}
				kids, err = f.symbolTable(f.uint(m.data, f.offSize), f.uint(m.data[f.offSize:], f.offSize), kids)
				if err != nil {
					return err
				}
			case 0x06: // link
				c, ok, err := f.link(m.data)
				if err != nil {
					return err
				}
				if ok {
					kids = append(kids, c)
				}
			case 0x02: // link info: dense storage if its heap address is set
				if dense, err := f.denseLinks(m.data); err != nil {
					return err
				} else if dense && deferred == nil {
					deferred = errDenseLinks
				}
			}
		}
		// Push in reverse so that children are visited in stored order.
		for i := len(kids) - 1; i >= 0; i-- {
			off, err := f.addr(kids[i].addr)
			if err != nil {
				return err
			}
			if seen[off] {
				continue
			}
			seen[off] = true
			if len(stack) >= f.lim.MaxEntries {
				return &scan.LimitError{Limit: "max-entries", Max: int64(f.lim.MaxEntries)}
			}
			stack = append(stack, Object{Path: joinPath(o.Path, kids[i].name), Off: off})
		}
	}
	return deferred
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

type child struct {
	name string
	addr uint64
}

// maxName bounds a link name.
const maxName = 1 << 16

// symbolTable lists the children of a group kept in a v1 B-tree whose
// leaves are symbol table nodes, names in the local heap at heapAddr.
func (f *File) symbolTable(btree, heapAddr uint64, kids []child) ([]child, error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	start, err := f.addr(btree)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	nodes := []int64{start}
	for len(nodes) > 0 {
		off := nodes[len(nodes)-1]
		nodes = nodes[:len(nodes)-1]
		if seen[off] {
			return nil, scan.Malformedf("hdf5: B-tree loop at %d", off)
		}
		seen[off] = true
		if len(seen) > f.lim.MaxEntries {
			return nil, &scan.LimitError{Limit: "max-entries", Max: int64(f.lim.MaxEntries)}
		}
		h, err := f.read(off, 8+2*f.offSize)
		if err != nil {
			return nil, err
		}
		if string(h[:4]) != "TREE" || h[4] != 0 {
			return nil, scan.Malformedf("hdf5: no group B-tree node at %d", off)
		}
		level := h[5]
		used := int64(binary.LittleEndian.Uint16(h[6:]))
		// keys (heap offsets) and children alternate, one key more.
		size := int64(len(h)) + used*int64(f.lenSize+f.offSize) + int64(f.lenSize)
		if err := f.charge(size); err != nil {
			return nil, err
		}
		b, err := f.read(off, int(min(size, f.size+1)))
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < used; i++ {
			p := int64(len(h)) + i*int64(f.lenSize+f.offSize) + int64(f.lenSize)
			c, err := f.addr(f.uint(b[p:], f.offSize))
			if err != nil {
				return nil, err
			}
			if level > 0 {
				nodes = append(nodes, c)
				continue
			}
			kids, err = f.symbolNode(c, heap, kids)
			if err != nil {
				return nil, err
			}
		}
	}
	return kids, nil
}

// symbolNode appends the entries of the symbol table node at off.
func (f *File) symbolNode(off int64, heap []byte, kids []child) ([]child, error) {
	h, err := f.read(off, 8)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "SNOD" || h[4] != 1 {
		return nil, scan.Malformedf("hdf5: no symbol table node at %d", off)
	}
	n := int64(binary.LittleEndian.Uint16(h[6:]))
	entry := int64(2*f.offSize + 24)
	if err := f.charge(n * entry); err != nil {
		return nil, err
	}
	b, err := f.read(off+8, int(min(n*entry, f.size+1)))
	if err != nil {
		return nil, err
	}
	for i := int64(0); i < n; i++ {
		e := b[i*entry:]
		name, err := heapString(heap, f.uint(e, f.offSize))
		if err != nil {
			return nil, err
		}
		if len(kids) >= f.lim.MaxEntries {
			return nil, &scan.LimitError{Limit: "max-entries", Max: int64(f.lim.MaxEntries)}
		}
		kids = append(kids, child{name: name, addr: f.uint(e[f.offSize:], f.offSize)})
	}
	return kids, nil
}

func heapString(heap []byte, off uint64) (string, error) {
	if off >= uint64(len(heap)) {
		return "", scan.Malformedf("hdf5: link name at %d outside its %d-byte local heap", off, len(heap))
	}
	s := heap[off:]
	i := bytes.IndexByte(s, 0)
	if i < 0 || i > maxName {
		return "", scan.Malformedf("hdf5: unterminated link name in the local heap")
	}
	return string(s[:i]), nil
}

// localHeap returns the data segment of the local heap at addr.
func (f *File) localHeap(addr uint64) ([]byte, error) {
	off, err := f.addr(addr)
	if err != nil {
		return nil, err
	}
	h, err := f.read(off, 8+2*f.lenSize+f.offSize)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "HEAP" || h[4] != 0 {
		return nil, scan.Malformedf("hdf5: no local heap at %d", off)
	}
	size := f.uint(h[8:], f.lenSize)
	data, err := f.addr(f.uint(h[8+2*f.lenSize:], f.offSize))
	if err != nil {
		return nil, err
	}
	if size > uint64(f.size-data) {
		return nil, scan.Malformedf("hdf5: local heap of %d bytes at %d outside the file", size, data)
	}
	if err := f.charge(int64(size)); err != nil {
		return nil, err
	}
	return f.read(data, int(size))
}

// link decodes a link message; ok is false for soft and external links.
func (f *File) link(d []byte) (child, bool, error) {
	bad := scan.Malformedf("hdf5: short link message")
	if len(d) < 2 || d[0] != 1 {
		return child{}, false, scan.Malformedf("hdf5: bad link message")
	}
	flags := d[1]
	p := 2
	typ := byte(0)
	if flags&0x08 != 0 {
		if len(d) < p+1 {
			return child{}, false, bad
		}
		typ = d[p]
		p++
	}
	if flags&0x04 != 0 {
		p += 8
	}
	if flags&0x10 != 0 {
		p++
	}
	w := 1 << (flags & 3)
	if len(d) < p+w {
		return child{}, false, bad
	}
	n := f.uint(d[p:], w)
	p += w
	if n > maxName || uint64(len(d)-p) < n {
		return child{}, false, bad
	}
	name := string(d[p : p+int(n)])
	p += int(n)
	if typ != 0 {
		return child{}, false, nil
	}
	if len(d) < p+f.offSize {
		return child{}, false, bad
	}
	return child{name: name, addr: f.uint(d[p:], f.offSize)}, true, nil
}

// denseLinks reports whether a link info message points at a fractal heap.
func (f *File) denseLinks(d []byte) (bool, error) {
	if len(d) < 2 {
		return false, scan.Malformedf("hdf5: short link info message")
	}
	p := 2
	if d[1]&1 != 0 {
		p += 8
	}
	if len(d) < p+f.offSize {
		return false, scan.Malformedf("hdf5: short link info message")
	}
	heap := f.uint(d[p:], f.offSize)
	return heap != ^uint64(0)>>(64-8*f.offSize), nil
}

// Attributes returns o's attributes whose values are single strings, as
// RootAttributes does for the root.
func (f *File) Attributes(o *Object) ([]Attribute, error) {
	return f.attributes(o.msgs)
}
