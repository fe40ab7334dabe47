package hdf5

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// PyTables (and pandas.read_hdf through it) calls pickle.loads on every
// string attribute of every node whose value ends with "." when the
// attribute is read (tables/attributeset.py), in any pickle protocol. So
// the scanner walks the whole group tree, reads every object's attributes
// and scans each such value as pickle.loads would read it.

// Limits of the walk.
const (
	maxObjects    = 1 << 16 // objects (groups and datasets) visited
	maxGroupDepth = 64      // nesting of groups
	maxBTreeNodes = 1 << 16 // group B-tree and symbol table nodes read
)

// errDenseLinks reports a group whose links are in dense storage (a
// fractal heap), which this reader does not decode.
var errDenseLinks = scan.Malformedf("hdf5: group links in dense storage (fractal heap) are not read")

type walker struct {
	f       *File
	seen    map[int64]bool
	objects int
	nodes   int
	visit   func(path string, msgs []message) error
	partial error // the first part of the file that could not be read
}

// walkObjects calls visit with the messages of every object reachable from
// the root group, each once, with its path ("/" for the root). Parts of
// the tree that cannot be read are skipped and reported in the returned
// error after the rest has been visited.
func (f *File) walkObjects(ctx context.Context, visit func(path string, msgs []message) error) error {
	off, err := f.addr(f.rootAddr)
	if err != nil {
		return err
	}
	w := &walker{f: f, seen: map[int64]bool{}, visit: visit}
	if err := w.object(ctx, "/", off, 0); err != nil {
		return err
	}
	return w.partial
}

func (w *walker) note(err error) {
	if w.partial == nil {
		w.partial = err
	}
}

func (w *walker) object(ctx context.Context, path string, off int64, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.seen[off] {
		return nil // a hard link to an object already visited, or a cycle
	}
	w.seen[off] = true
	if w.objects++; w.objects > maxObjects {
		return &scan.LimitError{Limit: "hdf5-objects", Max: maxObjects}
	}
	msgs, err := w.f.objectHeader(off)
	if err != nil {
		if errors.Is(err, scan.ErrLimit) {
			return err
		}
		w.note(fmt.Errorf("%s: %w", path, err))
		return nil
	}
	if err := w.visit(path, msgs); err != nil {
		return err
	}
	if depth >= maxGroupDepth {
		w.note(scan.Malformedf("hdf5: %s: groups nested deeper than %d", path, maxGroupDepth))
		return nil
	}
	for _, m := range msgs {
		var err error
		switch m.typ {
		case 0x11: // symbol table: a v1 group
			err = w.symbolTable(ctx, path, m.data, depth)
		case 0x06: // link
			err = w.link(ctx, path, m.data, depth)
		case 0x02: // link info: dense storage if its fractal heap is set
			if len(m.data) >= 2+w.f.offSize {
				p := 2
				if m.data[1]&1 != 0 {
					p += 8
				}
				if p+w.f.offSize <= len(m.data) && !w.f.undefined(w.f.uint(m.data[p:], w.f.offSize)) {
					w.note(fmt.Errorf("%s: %w", path, errDenseLinks))
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *File) undefined(a uint64) bool { return a == ^uint64(0)>>(64-8*f.offSize) }

func child(path, name string) string {
	if path == "/" {
		return "/" + name
	}
	return path + "/" + name
}

// link follows a hard link message to its object.
func (w *walker) link(ctx context.Context, path string, d []byte, depth int) error {
	f := w.f
	bad := func(why string) error {
		w.note(scan.Malformedf("hdf5: %s: link message: %s", path, why))
		return nil
	}
	if len(d) < 2 || d[0] != 1 {
		return bad("unknown version")
	}
	flags := d[1]
	p := 2
	typ := byte(0)
	if flags&0x08 != 0 {
		if p >= len(d) {
			return bad("too short")
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
	lsize := 1 << (flags & 3)
	if p+lsize > len(d) {
		return bad("too short")
	}
	n := int(f.uint(d[p:], lsize))
	p += lsize
	if n < 0 || p+n > len(d) {
		return bad("name runs past the message")
	}
	name := string(d[p : p+n])
	p += n
	if typ != 0 {
		return nil // soft and external links name paths, not objects here
	}
	if p+f.offSize > len(d) {
		return bad("short hard link")
	}
	off, err := f.addr(f.uint(d[p:], f.offSize))
	if err != nil {
		return bad(err.Error())
	}
	return w.object(ctx, child(path, name), off, depth+1)
}

// symbolTable walks a v1 group: its B-tree of symbol table nodes, whose
// entries name their objects through the group's local heap.
func (w *walker) symbolTable(ctx context.Context, path string, d []byte, depth int) error {
	f := w.f
	if len(d) < 2*f.offSize {
		w.note(scan.Malformedf("hdf5: %s: short symbol table message", path))
		return nil
	}
	heap, err := w.localHeap(f.uint(d[f.offSize:], f.offSize))
	if err != nil {
		w.note(fmt.Errorf("%s: %w", path, err))
		return nil
	}
	var entries []uint64 // symbol table node addresses
	if err := w.btree(f.uint(d, f.offSize), 0, &entries); err != nil {
		if errors.Is(err, scan.ErrLimit) {
			return err
		}
		w.note(fmt.Errorf("%s: %w", path, err))
	}
	for _, a := range entries {
		if err := w.symbolNode(ctx, path, a, heap, depth); err != nil {
			return err
		}
	}
	return nil
}

// btree collects the children of a v1 group B-tree (node type 0) at
// level 0: the symbol table nodes.
func (w *walker) btree(a uint64, level int, out *[]uint64) error {
	f := w.f
	if w.nodes++; w.nodes > maxBTreeNodes {
		return &scan.LimitError{Limit: "hdf5-btree-nodes", Max: maxBTreeNodes}
	}
	if level > 64 {
		return scan.Malformedf("hdf5: group B-tree deeper than 64")
	}
	off, err := f.addr(a)
	if err != nil {
		return err
	}
	h, err := f.read(off, 8+2*f.offSize)
	if err != nil {
		return err
	}
	if string(h[:4]) != "TREE" || h[4] != 0 {
		return scan.Malformedf("hdf5: no group B-tree node at %d", off)
	}
	nodeLevel := int(h[5])
	used := int(binary.LittleEndian.Uint16(h[6:]))
	// keys (length-sized heap offsets) and children interleaved: key,
	// child, key, child, ..., key.
	n := (used+1)*f.lenSize + used*f.offSize
	if err := f.charge(int64(n)); err != nil {
		return err
	}
	body, err := f.read(off+int64(len(h)), n)
	if err != nil {
		return err
	}
	for i := 0; i < used; i++ {
		c := f.uint(body[(i+1)*f.lenSize+i*f.offSize:], f.offSize)
		if nodeLevel == 0 {
			*out = append(*out, c)
		} else if err := w.btree(c, level+1, out); err != nil {
			return err
		}
	}
	return nil
}

// symbolNode visits the objects a symbol table node lists.
func (w *walker) symbolNode(ctx context.Context, path string, a uint64, heap []byte, depth int) error {
	f := w.f
	if w.nodes++; w.nodes > maxBTreeNodes {
		return &scan.LimitError{Limit: "hdf5-btree-nodes", Max: maxBTreeNodes}
	}
	off, err := f.addr(a)
	if err != nil {
		w.note(fmt.Errorf("%s: %w", path, err))
		return nil
	}
	h, err := f.read(off, 8)
	if err != nil || string(h[:4]) != "SNOD" {
		w.note(scan.Malformedf("hdf5: %s: no symbol table node at %d", path, off))
		return nil
	}
	n := int(binary.LittleEndian.Uint16(h[6:]))
	esize := 2*f.offSize + 24
	if err := f.charge(int64(n * esize)); err != nil {
		return err
	}
	body, err := f.read(off+8, n*esize)
	if err != nil {
		w.note(fmt.Errorf("%s: %w", path, err))
		return nil
	}
	for i := 0; i < n; i++ {
		e := body[i*esize:]
		nameOff := f.uint(e, f.offSize)
		obj := f.uint(e[f.offSize:], f.offSize)
		name := "?"
		if nameOff < uint64(len(heap)) {
			if end := bytes.IndexByte(heap[nameOff:], 0); end >= 0 {
				name = string(heap[nameOff : nameOff+uint64(end)])
			}
		}
		o, err := f.addr(obj)
		if err != nil {
			w.note(fmt.Errorf("%s/%s: %w", path, name, err))
			continue
		}
		if err := w.object(ctx, child(path, name), o, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// localHeap returns the data segment of a local heap (the names of a v1
// group's members).
func (w *walker) localHeap(a uint64) ([]byte, error) {
	f := w.f
	off, err := f.addr(a)
	if err != nil {
		return nil, err
	}
	h, err := f.read(off, 8+2*f.lenSize+f.offSize)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "HEAP" {
		return nil, scan.Malformedf("hdf5: no local heap at %d", off)
	}
	size := f.uint(h[8:], f.lenSize)
	data := f.uint(h[8+2*f.lenSize:], f.offSize)
	doff, err := f.addr(data)
	if err != nil {
		return nil, err
	}
	if size > uint64(f.size) {
		return nil, scan.Malformedf("hdf5: local heap of %d bytes", size)
	}
	if err := f.charge(int64(size)); err != nil {
		return nil, err
	}
	return f.read(doff, int(size))
}

// scanPickledAttributes scans every attribute that PyTables would unpickle.
func (f *File) scanPickledAttributes(ctx context.Context, s *scan.Session) error {
	return f.walkObjects(ctx, func(path string, msgs []message) error {
		for _, m := range msgs {
			if m.typ != 0x0C {
				continue
			}
			a, ok, err := f.attribute(m.data)
			if err != nil {
				if errors.Is(err, scan.ErrLimit) {
					return err
				}
				s.ReportError(path, err)
				continue
			}
			v := bytes.TrimRight(a.Value, "\x00")
			if !ok || len(v) == 0 || v[len(v)-1] != '.' || string(v) == "0." {
				continue
			}
			member := path + "@" + a.Name
			if err := pickle.ScanLoads(ctx, s.Child(member), v); err != nil && !errors.Is(err, scan.ErrUnsupported) {
				if errors.Is(err, scan.ErrLimit) {
					return err
				}
				s.ReportError(member, err)
			}
		}
		return nil
	})
}
