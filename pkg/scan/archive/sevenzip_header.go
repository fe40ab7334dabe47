package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/ulikunitz/xz/lzma"

	"github.com/modelverify/modelverify/pkg/scan"
)

// The 7z decoder allocates slices from the counts a header declares before it
// checks the header's CRC, and a hostile header (its CRC recomputed) can
// declare four billion files in five bytes. checkSevenZipHeader walks the
// header first, decoding an LZMA-compressed header itself, and refuses any
// count above the entry limit, so that the decoder only ever sees headers
// whose allocations are bounded.

// 7z property ids (7zFormat.txt).
const (
	szEnd             = 0x00
	szHeader          = 0x01
	szArchiveProps    = 0x02
	szAdditional      = 0x03
	szMainStreams     = 0x04
	szFilesInfo       = 0x05
	szPackInfo        = 0x06
	szUnpackInfo      = 0x07
	szSubStreams      = 0x08
	szSize            = 0x09
	szCRC             = 0x0a
	szFolder          = 0x0b
	szCodersUnpack    = 0x0c
	szNumUnpackStream = 0x0d
	szEncodedHeader   = 0x17
)

var errSZHeader = errors.New("7z header")

type szWalker struct {
	r     *bufio.Reader
	limit uint64
	// what the walk learnt about an encoded header's single folder
	packPos     uint64
	packSizes   []uint64
	coderID     []byte
	coderProps  []byte
	unpackSizes []uint64
	folders     uint64
}

func (w *szWalker) byte() (byte, error) {
	b, err := w.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: truncated", errSZHeader)
	}
	return b, nil
}

// num reads a 7z variable-length number.
func (w *szWalker) num() (uint64, error) {
	b, err := w.byte()
	if err != nil {
		return 0, err
	}
	l := bits.LeadingZeros8(^b)
	var v uint64
	if l < 7 {
		v = uint64(b&(1<<(7-l)-1)) << (8 * l)
	}
	for i := range l {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c) << (8 * i)
	}
	return v, nil
}

// count reads a number that the decoder allocates from.
func (w *szWalker) count() (uint64, error) {
	v, err := w.num()
	if err == nil && v > w.limit {
		return 0, &scan.LimitError{Limit: "max-entries", Max: int64(w.limit)}
	}
	return v, err
}

func (w *szWalker) skip(n uint64) error {
	if n > 1<<32 {
		return fmt.Errorf("%w: property of %d bytes", errSZHeader, n)
	}
	if _, err := w.r.Discard(int(n)); err != nil {
		return fmt.Errorf("%w: truncated", errSZHeader)
	}
	return nil
}

func (w *szWalker) digests(n uint64) error {
	all, err := w.byte()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		defined = 0
		for i := uint64(0); i < (n+7)/8; i++ {
			b, err := w.byte()
			if err != nil {
				return err
			}
			defined += uint64(bits.OnesCount8(b))
		}
	}
	return w.skip(4 * defined)
}

func (w *szWalker) streamsInfo() error {
	var outTotals []uint64
	for {
		id, err := w.byte()
		if err != nil {
			return err
		}
		switch id {
		case szEnd:
			return nil
		case szPackInfo:
			if w.packPos, err = w.num(); err != nil {
				return err
			}
			n, err := w.count()
			if err != nil {
				return err
			}
			for {
				id, err := w.byte()
				if err != nil {
					return err
				}
				if id == szEnd {
					break
				}
				switch id {
				case szSize:
					w.packSizes = w.packSizes[:0]
					for range n {
						v, err := w.num()
						if err != nil {
							return err
						}
						w.packSizes = append(w.packSizes, v)
					}
				case szCRC:
					if err := w.digests(n); err != nil {
						return err
					}
				default:
					return fmt.Errorf("%w: property 0x%02x in pack info", errSZHeader, id)
				}
			}
		case szUnpackInfo:
			if id, err := w.byte(); err != nil || id != szFolder {
				return fmt.Errorf("%w: no folder list", errSZHeader)
			}
			if w.folders, err = w.count(); err != nil {
				return err
			}
			if ext, err := w.byte(); err != nil || ext != 0 {
				return fmt.Errorf("%w: external folders", errSZHeader)
			}
			for range w.folders {
				out, err := w.folder()
				if err != nil {
					return err
				}
				outTotals = append(outTotals, out)
			}
			if id, err := w.byte(); err != nil || id != szCodersUnpack {
				return fmt.Errorf("%w: no unpack sizes", errSZHeader)
			}
			w.unpackSizes = w.unpackSizes[:0]
			for _, o := range outTotals {
				for range o {
					v, err := w.num()
					if err != nil {
						return err
					}
					w.unpackSizes = append(w.unpackSizes, v)
				}
			}
			for {
				id, err := w.byte()
				if err != nil {
					return err
				}
				if id == szEnd {
					break
				}
				if id != szCRC {
					return fmt.Errorf("%w: property 0x%02x in unpack info", errSZHeader, id)
				}
				if err := w.digests(w.folders); err != nil {
					return err
				}
			}
		case szSubStreams:
			streams := uint64(0)
			perFolder := make([]uint64, 0, min(w.folders, 1024))
			for range w.folders {
				perFolder = append(perFolder, 1)
			}
			for {
				id, err := w.byte()
				if err != nil {
					return err
				}
				if id == szEnd {
					break
				}
				switch id {
				case szNumUnpackStream:
					for i := range perFolder {
						if perFolder[i], err = w.count(); err != nil {
							return err
						}
					}
				case szSize:
					for _, n := range perFolder {
						for j := uint64(1); j < n; j++ {
							if _, err := w.num(); err != nil {
								return err
							}
						}
					}
				case szCRC:
					streams = 0
					for _, n := range perFolder {
						streams += n
					}
					if streams > w.limit {
						return &scan.LimitError{Limit: "max-entries", Max: int64(w.limit)}
					}
					if err := w.digests(streams); err != nil {
						return err
					}
				default:
					return fmt.Errorf("%w: property 0x%02x in substreams", errSZHeader, id)
				}
			}
		default:
			return fmt.Errorf("%w: property 0x%02x in streams info", errSZHeader, id)
		}
	}
}

// folder reads one folder (a coder graph) and returns its output count.
func (w *szWalker) folder() (uint64, error) {
	coders, err := w.count()
	if err != nil {
		return 0, err
	}
	if coders == 0 || coders > 64 {
		return 0, fmt.Errorf("%w: %d coders", errSZHeader, coders)
	}
	var in, out uint64
	for range coders {
		flag, err := w.byte()
		if err != nil {
			return 0, err
		}
		id := make([]byte, flag&0x0f)
		if _, err := io.ReadFull(w.r, id); err != nil {
			return 0, fmt.Errorf("%w: truncated", errSZHeader)
		}
		ni, no := uint64(1), uint64(1)
		if flag&0x10 != 0 {
			if ni, err = w.count(); err != nil {
				return 0, err
			}
			if no, err = w.count(); err != nil {
				return 0, err
			}
		}
		var props []byte
		if flag&0x20 != 0 {
			n, err := w.num()
			if err != nil {
				return 0, err
			}
			if n > 1<<16 {
				return 0, fmt.Errorf("%w: coder properties of %d bytes", errSZHeader, n)
			}
			props = make([]byte, n)
			if _, err := io.ReadFull(w.r, props); err != nil {
				return 0, fmt.Errorf("%w: truncated", errSZHeader)
			}
		}
		if coders == 1 {
			w.coderID, w.coderProps = id, props
		}
		in += ni
		out += no
	}
	if out == 0 || in > 64 || out > 64 {
		return 0, fmt.Errorf("%w: bad coder graph", errSZHeader)
	}
	for range out - 1 { // bind pairs
		if _, err := w.num(); err != nil {
			return 0, err
		}
		if _, err := w.num(); err != nil {
			return 0, err
		}
	}
	if packed := in - (out - 1); packed > 1 {
		for range packed {
			if _, err := w.num(); err != nil {
				return 0, err
			}
		}
	}
	return out, nil
}

func (w *szWalker) header() error {
	for {
		id, err := w.byte()
		if err != nil {
			return err
		}
		switch id {
		case szEnd:
			return nil
		case szArchiveProps:
			if err := w.skipProperties(); err != nil {
				return err
			}
		case szAdditional, szMainStreams:
			if err := w.streamsInfo(); err != nil {
				return err
			}
		case szFilesInfo:
			if _, err := w.count(); err != nil {
				return err
			}
			if err := w.skipProperties(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: property 0x%02x in header", errSZHeader, id)
		}
	}
}

// checkSevenZipHeader validates the header of the 7z archive at the start
// of r as described above.
func checkSevenZipHeader(r io.ReaderAt, size int64, lim scan.Limits) error {
	var start [32]byte
	if _, err := r.ReadAt(start[:], 0); err != nil {
		return scan.Malformedf("7z: truncated start header")
	}
	off := binary.LittleEndian.Uint64(start[12:])
	n := binary.LittleEndian.Uint64(start[20:])
	if off > uint64(size) || n > uint64(size) || 32+off+n > uint64(size) {
		return scan.Malformedf("7z: next header outside the file")
	}
	if int64(n) > lim.MaxHeaderBytes {
		return &scan.LimitError{Limit: "max-header-bytes", Max: lim.MaxHeaderBytes}
	}
	w := &szWalker{r: bufio.NewReader(io.NewSectionReader(r, 32+int64(off), int64(n))), limit: uint64(lim.MaxEntries)}
	id, err := w.byte()
	if err != nil {
		return scan.Malformedf("7z: empty header")
	}
	switch id {
	case szHeader:
		return wrapSZ(w.header())
	case szEncodedHeader:
	default:
		return scan.Malformedf("7z: header id 0x%02x", id)
	}
	if err := w.streamsInfo(); err != nil {
		return wrapSZ(err)
	}
	// The encoded header is one LZMA-compressed stream: decode it here.
	if w.folders != 1 || len(w.packSizes) != 1 || len(w.unpackSizes) != 1 {
		return scan.Malformedf("7z: encoded header is not one stream")
	}
	if int64(w.unpackSizes[0]) > lim.MaxHeaderBytes || w.unpackSizes[0] > 1<<40 {
		return &scan.LimitError{Limit: "max-header-bytes", Max: lim.MaxHeaderBytes}
	}
	pos := 32 + w.packPos
	if pos > uint64(size) || w.packSizes[0] > uint64(size)-pos {
		return scan.Malformedf("7z: encoded header outside the file")
	}
	packed := io.NewSectionReader(r, int64(pos), int64(w.packSizes[0]))
	window := int(min(lim.MaxWindowBytes, 1<<31-1))
	var lr io.Reader
	switch {
	case bytes.Equal(w.coderID, []byte{3, 1, 1}) && len(w.coderProps) == 5: // LZMA
		alone := make([]byte, 13)
		copy(alone, w.coderProps)
		binary.LittleEndian.PutUint64(alone[5:], w.unpackSizes[0])
		zr, err := lzma.ReaderConfig{DictCap: window}.NewReader(io.MultiReader(bytes.NewReader(alone), packed))
		if err != nil {
			return scan.Malformedf("7z: encoded header: %v", err)
		}
		lr = zr
	case bytes.Equal(w.coderID, []byte{0x21}) && len(w.coderProps) == 1: // LZMA2
		p := w.coderProps[0]
		if p > 40 {
			return scan.Malformedf("7z: encoded header: bad LZMA2 dictionary")
		}
		dict := int64(1<<32 - 1)
		if p < 40 {
			dict = int64(2|p&1) << (p/2 + 11)
		}
		if dict > int64(window) {
			return &scan.LimitError{Limit: "max-window-bytes", Max: int64(window)}
		}
		zr, err := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader2(packed)
		if err != nil {
			return scan.Malformedf("7z: encoded header: %v", err)
		}
		lr = zr
	default:
		return scan.Malformedf("7z: encoded header uses coder %x, not LZMA or LZMA2 (an encrypted header cannot be analysed)", w.coderID)
	}
	inner := &szWalker{r: bufio.NewReader(io.LimitReader(lr, int64(w.unpackSizes[0]))), limit: w.limit}
	if id, err := inner.byte(); err != nil || id != szHeader {
		return scan.Malformedf("7z: encoded header does not decode to a header")
	}
	return wrapSZ(inner.header())
}

func wrapSZ(err error) error {
	if err == nil || errors.Is(err, scan.ErrLimit) {
		return err
	}
	return fmt.Errorf("%w: %v", scan.ErrMalformed, err)
}

// skipProperties skips property records (id, size, data) up to the 0 id
// that ends them.
func (w *szWalker) skipProperties() error {
	for {
		t, err := w.byte()
		if err != nil {
			return err
		}
		if t == 0 {
			return nil
		}
		n, err := w.num()
		if err != nil {
			return err
		}
		if err := w.skip(n); err != nil {
			return err
		}
	}
}
