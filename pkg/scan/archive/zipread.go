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

// findEnd finds the end of central directory record and returns the
// central directory's declared offset, size, entry count and actual start.
func findEnd(r io.ReaderAt, size int64) (cdOff, cdSize, count, endPos int64, err error) {
	n := min(size, endLen+maxComment)
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, 0, 0, 0, err
	}
	for i := len(buf) - endLen; i >= 0; i-- {
		if string(buf[i:i+4]) != sigEnd {
			continue
		}
		b := buf[i:]
		clen := int(binary.LittleEndian.Uint16(b[20:]))
		if i+endLen+clen > len(buf) {
			continue // a signature inside data, not a record
		}
		endPos = size - n + int64(i)
		count = int64(binary.LittleEndian.Uint16(b[10:]))
		cdSize = int64(binary.LittleEndian.Uint32(b[12:]))
		cdOff = int64(binary.LittleEndian.Uint32(b[16:]))
		// zip64: the locator sits just before the end record.
		if endPos >= 20 {
			loc := make([]byte, 20)
			if _, err := r.ReadAt(loc, endPos-20); err == nil && string(loc[:4]) == sigLoc64 {
				off64 := int64(binary.LittleEndian.Uint64(loc[8:]))
				e := make([]byte, end64Len)
				// The record sits right before the locator; its declared
				// offset is relative to the zip's start, which may not be 0.
				pos := endPos - 20 - end64Len
				if pos < 0 || !hasSig(r, pos, sigEnd64) {
					pos = off64 // a record with extensible data, where it says it is
				}
				if _, err := r.ReadAt(e, pos); err == nil && string(e[:4]) == sigEnd64 {
					count = int64(binary.LittleEndian.Uint64(e[32:]))
					cdSize = int64(binary.LittleEndian.Uint64(e[40:]))
					cdOff = int64(binary.LittleEndian.Uint64(e[48:]))
					endPos = pos
				}
			}
		}
		return cdOff, cdSize, count, endPos, nil
	}
	return 0, 0, 0, 0, errNoZip
}

// readZip reads the central directory of the zip in r, then looks for local
// headers it does not list.
func readZip(r io.ReaderAt, size int64, maxEntries int) (*zipDir, error) {
	cdOff, cdSize, _, endPos, err := findEnd(r, size)
	if errors.Is(err, errNoZip) {
		return scanLocals(r, size, maxEntries)
	}
	if err != nil {
		return nil, err
	}
	d := &zipDir{CDStart: cdOff}
	// Like Python's zipfile, trust where the directory actually ends over
	// the offset it declares: the difference is data prepended to the zip.
	if cdSize >= 0 && cdSize <= endPos {
		if base := endPos - cdSize - cdOff; base > 0 {
			d.Base = base
		}
	}
	d.CDStart = cdOff + d.Base
	if d.CDStart < 0 || d.CDStart > size {
		return nil, scan.Malformedf("zip: central directory offset %d outside the file", cdOff)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, d.CDStart, max(endPos-d.CDStart, 0)), 64<<10)
	hdr := make([]byte, centralLen)
	var derr error
	for {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil || string(hdr[:4]) != sigCentral {
			break // the directory ends where its records stop
		}
		if len(d.Entries) >= maxEntries {
			return d, &scan.LimitError{Limit: "max-entries", Max: int64(maxEntries)}
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			derr = scan.Malformedf("zip: truncated central directory")
			break
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		varBuf := make([]byte, nameLen+extraLen+commentLen)
		if _, err := io.ReadFull(br, varBuf); err != nil {
			derr = scan.Malformedf("zip: truncated central directory")
			break
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
		e.Local += d.Base
		d.Entries = append(d.Entries, e)
	}
	if err := d.findHidden(r, size, maxEntries); err != nil {
		return d, err
	}
	return d, derr
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
