package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/modelverify/modelverify/pkg/scan"
)

const (
	sigLocal   = "PK\x03\x04"
	sigCentral = "PK\x01\x02"
	sigEnd     = "PK\x05\x06"
	sigEnd64   = "PK\x06\x06"
	sigLoc64   = "PK\x06\x07"

	localLen   = 30
	centralLen = 46
	endLen     = 22
	end64Len   = 56
	maxComment = 65535
)

// zipEntry is one member as a loader finds it.
type zipEntry struct {
	Name       string
	Method     uint16
	Flags      uint16
	CompSize   int64
	UncompSize int64
	// Local is the absolute offset of the local header.
	Local int64
	// Hidden is set for a local header that the central directory does not
	// list.
	Hidden bool
}

// zipDir is what readZip found.
type zipDir struct {
	Entries []zipEntry
	// Base is where the zip starts in the file: > 0 for data prepended to it
	// (a polyglot).
	Base int64
	// CDStart is where the central directory starts (size when none).
	CDStart int64
	// NoDirectory is set when no end record was found and members were
	// found by their local headers alone.
	NoDirectory bool
}

// errNoZip: no end of central directory record and no local header.
var errNoZip = errors.New("no zip end record")

// dirView is one reading of where the central directory is: what one loader
// concludes from one end record.
type dirView struct {
	// Start is the absolute offset of the first central directory record.
	Start int64
	// Base is added to every local header offset the directory declares.
	Base int64
}

// endViews returns every reading of the file's end records that a loader
// makes, most common first. The loaders disagree:
//   - Both CPython's zipfile and miniz (PyTorch) take the last end record
//     signature with 22 bytes after it, whatever its comment length says;
//     APPNOTE readers (Go's archive/zip) skip one whose comment does not fit.
//   - zipfile reads a zip64 end record only right before the locator, and
//     takes the offset between where the directory ends and where it says
//     it starts as data prepended to the zip, shifting every offset.
//   - miniz reads the zip64 end record where the locator points and uses
//     every offset as absolute.
//
// An earlier signature is tried only where some reader picks it: the last
// one whose comment fits the file (APPNOTE readers), and the last one whose
// comment ends exactly at the end of the file (strict readers). Earlier
// records of a stored inner zip are not the outer zip's.
func endViews(r io.ReaderAt, size int64) ([]dirView, error) {
	n := min(size, endLen+maxComment)
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return nil, err
	}
	var views []dirView
	add := func(v dirView) {
		if v.Start < 0 || v.Start >= size {
			return
		}
		for _, w := range views {
			if w.Start == v.Start && w.Base == v.Base {
				return
			}
		}
		views = append(views, v)
	}
	var ends []int
	last, fits, exact := -1, -1, -1
	for i := len(buf) - endLen; i >= 0 && exact < 0; i-- {
		if string(buf[i:i+4]) != sigEnd {
			continue
		}
		clen := int(binary.LittleEndian.Uint16(buf[i+20:]))
		if last < 0 {
			last = i
			ends = append(ends, i)
		}
		if fits < 0 && i+endLen+clen <= len(buf) {
			fits = i
			if i != last {
				ends = append(ends, i)
			}
		}
		if i+endLen+clen == len(buf) {
			exact = i
			if i != last && i != fits {
				ends = append(ends, i)
			}
		}
	}
	for _, i := range ends {
		b := buf[i:]
		endPos := size - n + int64(i)
		cdSize := int64(binary.LittleEndian.Uint32(b[12:]))
		cdOff := int64(binary.LittleEndian.Uint32(b[16:]))
		// zipfile and miniz, 32-bit record: zipfile shifts by the
		// prepended bytes, miniz does not.
		add(dirView{Start: endPos - cdSize, Base: endPos - cdSize - cdOff})
		add(dirView{Start: cdOff})
		if endPos < 20 {
			continue
		}
		loc := make([]byte, 20)
		if _, err := r.ReadAt(loc, endPos-20); err != nil || string(loc[:4]) != sigLoc64 {
			continue
		}
		off64 := int64(binary.LittleEndian.Uint64(loc[8:]) & (1<<62 - 1))
		// zipfile: the record right before the locator; the directory ends
		// where that record starts.
		if pos := endPos - 20 - end64Len; pos >= 0 {
			if s64, o64, ok := end64(r, pos); ok {
				add(dirView{Start: pos - s64, Base: pos - s64 - o64})
				add(dirView{Start: o64})
			}
		}
		// miniz: the record where the locator says, offsets absolute.
		if _, o64, ok := end64(r, off64); ok {
			add(dirView{Start: o64})
		}
	}
	if len(ends) == 0 {
		return nil, errNoZip
	}
	return views, nil
}

// end64 reads a zip64 end of central directory record at pos and returns
// the directory's size and offset.
func end64(r io.ReaderAt, pos int64) (cdSize, cdOff int64, ok bool) {
	e := make([]byte, end64Len)
	if _, err := r.ReadAt(e, pos); err != nil || string(e[:4]) != sigEnd64 {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(e[40:]) & (1<<62 - 1)),
		int64(binary.LittleEndian.Uint64(e[48:]) & (1<<62 - 1)), true
}

// readZip reads the central directory of the zip in r as every loader would
// find it (see endViews) and returns the union of the members they list,
// then looks for local headers none of them lists.
func readZip(r io.ReaderAt, size int64, maxEntries int) (*zipDir, error) {
	views, err := endViews(r, size)
	if errors.Is(err, errNoZip) {
		return scanLocals(r, size, maxEntries)
	}
	if err != nil {
		return nil, err
	}
	if len(views) == 0 {
		return nil, scan.Malformedf("zip: no end record points to a central directory inside the file")
	}
	d := &zipDir{}
	seen := map[[2]int64]map[string]bool{}
	var derr error
	primary := -1
	for vi, v := range views {
		ents, verr := readDirectory(r, size, v, maxEntries-len(d.Entries))
		if len(ents) == 0 && verr == nil && vi > 0 {
			continue // a reading that finds no directory there
		}
		if primary < 0 && (len(ents) > 0 || vi == 0) {
			primary = vi
			d.Base = max(v.Base, 0)
			d.CDStart = v.Start
			derr = verr
		}
		for _, e := range ents {
			if vi != primary && !hasSig(r, e.Local, sigLocal) {
				continue // this reading fails at the member: no loader reads it so
			}
			k := [2]int64{e.Local, e.CompSize}
			if seen[k][e.Name] {
				continue
			}
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			seen[k][e.Name] = true
			d.Entries = append(d.Entries, e)
		}
		var le *scan.LimitError
		if errors.As(verr, &le) {
			return d, verr
		}
	}
	if err := d.findHidden(r, size, maxEntries); err != nil {
		return d, err
	}
	return d, derr
}

// readDirectory reads central directory records from v.Start until their
// signature stops. zipfile stops after the declared size and miniz after the
// declared count; reading every record there covers both.
func readDirectory(r io.ReaderAt, size int64, v dirView, maxEntries int) ([]zipEntry, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, v.Start, max(size-v.Start, 0)), 64<<10)
	hdr := make([]byte, centralLen)
	var out []zipEntry
	for {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil || string(hdr[:4]) != sigCentral {
			return out, nil // the directory ends where its records stop
		}
		if len(out) >= maxEntries {
			return out, &scan.LimitError{Limit: "max-entries", Max: int64(maxEntries)}
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			return out, scan.Malformedf("zip: truncated central directory")
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		varBuf := make([]byte, nameLen+extraLen+commentLen)
		if _, err := io.ReadFull(br, varBuf); err != nil {
			return out, scan.Malformedf("zip: truncated central directory")
		}
		e := zipEntry{
			Name:       string(varBuf[:nameLen]),
			Flags:      binary.LittleEndian.Uint16(hdr[8:]),
			Method:     binary.LittleEndian.Uint16(hdr[10:]),
			CompSize:   int64(binary.LittleEndian.Uint32(hdr[20:])),
			UncompSize: int64(binary.LittleEndian.Uint32(hdr[24:])),
			Local:      int64(binary.LittleEndian.Uint32(hdr[42:])),
		}
		zip64Extra(&e, varBuf[nameLen:nameLen+extraLen])
		e.Local += v.Base
		out = append(out, e)
	}
}

// zip64Extra applies the zip64 extended information field: the 64-bit
// values of the fields that hold 0xFFFFFFFF, in their fixed order.
func zip64Extra(e *zipEntry, extra []byte) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return
		}
		if id == 0x0001 {
			f := extra[4 : 4+n]
			next := func(v *int64) {
				if *v == 0xFFFFFFFF && len(f) >= 8 {
					*v = int64(binary.LittleEndian.Uint64(f) & (1<<62 - 1))
					f = f[8:]
				}
			}
			next(&e.UncompSize)
			next(&e.CompSize)
			next(&e.Local)
			return
		}
		extra = extra[4+n:]
	}
}

// local reads an entry's local header and returns the offset of its data.
// The local name and extra lengths decide the offset, as in every reader;
// sizes and method come from the central directory, as in miniz.
func localData(r io.ReaderAt, size int64, e *zipEntry) (int64, string, error) {
	var h [localLen]byte
	if _, err := r.ReadAt(h[:], e.Local); err != nil {
		return 0, "", scan.Malformedf("zip: local header of %q at %d: %v", e.Name, e.Local, err)
	}
	if string(h[:4]) != sigLocal {
		return 0, "", scan.Malformedf("zip: no local header for %q at %d", e.Name, e.Local)
	}
	nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
	name := make([]byte, nameLen)
	if _, err := r.ReadAt(name, e.Local+localLen); err != nil {
		return 0, "", scan.Malformedf("zip: local header of %q: %v", e.Name, err)
	}
	return e.Local + localLen + nameLen + extraLen, string(name), nil
}

// parseLocal reads a local header at off for a member the central directory
// does not list.
func parseLocal(r io.ReaderAt, size, off int64) (zipEntry, int64, bool) {
	var h [localLen]byte
	if _, err := r.ReadAt(h[:], off); err != nil || string(h[:4]) != sigLocal {
		return zipEntry{}, 0, false
	}
	nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
	buf := make([]byte, nameLen+extraLen)
	if _, err := r.ReadAt(buf, off+localLen); err != nil {
		return zipEntry{}, 0, false
	}
	e := zipEntry{
		Name:       string(buf[:nameLen]),
		Flags:      binary.LittleEndian.Uint16(h[6:]),
		Method:     binary.LittleEndian.Uint16(h[8:]),
		CompSize:   int64(binary.LittleEndian.Uint32(h[18:])),
		UncompSize: int64(binary.LittleEndian.Uint32(h[22:])),
		Local:      off,
		Hidden:     true,
	}
	zip64Extra(&e, buf[nameLen:])
	data := off + localLen + nameLen + extraLen
	if e.CompSize == 0 && e.Flags&0x8 != 0 {
		// Sizes follow the data in a descriptor: read up to the next header.
		e.CompSize = -1
	}
	return e, data, true
}

// findHidden scans the bytes that no listed member covers (before the first
// member, between members, before the directory) for local headers.
func (d *zipDir) findHidden(r io.ReaderAt, size int64, maxEntries int) error {
	type span struct{ from, to int64 }
	var covered []span
	for i := range d.Entries {
		e := &d.Entries[i]
		data, _, err := localData(r, size, e)
		if err != nil {
			continue
		}
		covered = append(covered, span{e.Local, data + max(e.CompSize, 0)})
	}
	sort.Slice(covered, func(i, j int) bool { return covered[i].from < covered[j].from })
	pos := d.Base
	var gaps []span
	for _, c := range covered {
		if c.from > pos {
			gaps = append(gaps, span{pos, c.from})
		}
		pos = max(pos, c.to)
	}
	if d.CDStart > pos {
		gaps = append(gaps, span{pos, d.CDStart})
	}
	for _, g := range gaps {
		if g.to-g.from < localLen {
			continue // data descriptors, padding: too small to hold a member
		}
		for _, off := range findSig(r, g.from, g.to, sigLocal) {
			e, data, ok := parseLocal(r, size, off)
			if !ok {
				continue
			}
			if e.CompSize < 0 {
				e.CompSize = g.to - data
			}
			if len(d.Entries) >= maxEntries {
				return &scan.LimitError{Limit: "max-entries", Max: int64(maxEntries)}
			}
			d.Entries = append(d.Entries, e)
		}
	}
	return nil
}

// scanLocals finds members by their local headers alone, for a zip whose
// end record is missing (truncated, or cut on purpose).
func scanLocals(r io.ReaderAt, size int64, maxEntries int) (*zipDir, error) {
	offs := findSig(r, 0, size, sigLocal)
	if len(offs) == 0 {
		return nil, errNoZip
	}
	d := &zipDir{CDStart: size, NoDirectory: true}
	for i, off := range offs {
		e, data, ok := parseLocal(r, size, off)
		if !ok {
			continue
		}
		next := size
		if i+1 < len(offs) {
			next = offs[i+1]
		}
		if e.CompSize < 0 || data+e.CompSize > size {
			e.CompSize = max(next-data, 0)
		}
		e.Hidden = false
		if len(d.Entries) >= maxEntries {
			return d, &scan.LimitError{Limit: "max-entries", Max: int64(maxEntries)}
		}
		d.Entries = append(d.Entries, e)
	}
	return d, nil
}

// findSig returns the offsets of sig in [from, to), reading in chunks.
func findSig(r io.ReaderAt, from, to int64, sig string) []int64 {
	const chunk = 1 << 20
	var out []int64
	buf := make([]byte, min(chunk, to-from)+int64(len(sig))-1)
	for pos := from; pos < to; pos += chunk {
		n := min(int64(len(buf)), to-pos)
		m, _ := r.ReadAt(buf[:n], pos)
		b := buf[:m]
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(sig))
			if j < 0 || int64(i+j) >= chunk {
				break
			}
			out = append(out, pos+int64(i+j))
			i += j + 1
		}
	}
	return out
}

func (e zipEntry) String() string { return fmt.Sprintf("%s@%d", e.Name, e.Local) }

func hasSig(r io.ReaderAt, off int64, sig string) bool {
	b := make([]byte, len(sig))
	_, err := r.ReadAt(b, off)
	return err == nil && string(b) == sig
}
