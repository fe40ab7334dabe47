package pickle

// memoChunk is the size of one memo block. The memo grows in blocks so that
// a pickle of millions of memoised objects never copies it.
const memoChunk = 1 << 16

// denseMax is the largest index kept in blocks; hostile PUT indices beyond it
// go to a map and cost only what they store.
const denseMax = 1 << 26

// sparseMax bounds the map of far memo indices. Real pickles number their
// memo densely from 0 and never use it.
const sparseMax = 1 << 20

// full reports whether a put at index i could exceed the sparse bound.
func (mm *memo) full(i uint64) bool {
	return len(mm.sparse) >= sparseMax && (i >= denseMax || i > 2*uint64(mm.len)+memoChunk)
}

// memo is CPython's unpickler memo, kept compact: a slot is 4 bytes. Values
// the analysis never reads back in full (mutable containers, numbers, long
// or non-name strings) are kept as their kind alone; the rest (names, short
// byte strings, tuples, globals, instances) go to a side table. len counts
// the keys set, which is where MEMOIZE stores next.
type memo struct {
	chunks [][]uint32
	vals   []val
	sparse map[uint64]val
	len    int
}

// Slot codes below slotOpaqueStr are a bare kind plus one; the next two are
// strings and bytes whose content was not kept; from slotVal on, an index
// into vals.
const (
	slotOpaqueStr   = 20
	slotOpaqueBytes = 21
	slotVal         = 32
)

// opaqueStr marks a string or bytes value whose content was not kept.
var opaqueStr = &obj{lit: &litRef{len: -1}}

// keepStr is the longest string the memo keeps: longer than any module path.
const keepStr = 256

func (mm *memo) encode(v val) (uint32, val) {
	switch v.k {
	case kDict, kList, kSet:
		// Filled after memoisation; a copy fetched back is opaque, which makes
		// the analysis fail closed, never open.
		return uint32(v.k) + 1, val{k: v.k}
	case kNone, kBool, kFloat, kUnknown:
		return uint32(v.k) + 1, val{k: v.k}
	case kStr, kBytes:
		if v.p != nil || (v.n > 0 && v.s == "") || len(v.s) > keepStr || (!isIdentifierPath(v.s) && !isShortWord(v.s)) {
			code := uint32(slotOpaqueStr)
			if v.k == kBytes {
				code = slotOpaqueBytes
			}
			return code, val{k: v.k, p: opaqueStr}
		}
	}
	mm.vals = append(mm.vals, v)
	return uint32(len(mm.vals)-1) + slotVal, v
}

// isShortWord keeps short strings that are not names but that calls read
// back from the memo (an encoding such as "latin-1", a dtype such as "<f8").
// Numbers, words with spaces and binary data are not kept.
func isShortWord(s string) bool {
	if len(s) > 16 {
		return false
	}
	letter := false
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == '_', c == '-', c == '.', c == '<', c == '>', c == '|', c == '=', c == '[', c == ']':
		default:
			return false
		}
	}
	return letter
}

func (mm *memo) put(i uint64, v val) {
	code, v := mm.encode(v)
	c, j := i/memoChunk, i%memoChunk
	if mm.sparse == nil && c < uint64(len(mm.chunks)) {
		// The common case: a dense index and no sparse entries.
		if mm.chunks[c][j] == 0 {
			mm.len++
		}
		mm.chunks[c][j] = code
		return
	}
	// Only indices near the ones in use are kept in blocks, so that blocks
	// cost at most twice the entries set; hostile far indices go to the map,
	// which is bounded by sparseMax.
	if i >= denseMax || i > 2*uint64(mm.len)+memoChunk {
		if mm.sparse == nil {
			mm.sparse = map[uint64]val{}
		}
		if _, ok := mm.sparse[i]; !ok && !mm.inChunks(i) {
			mm.len++
		}
		mm.sparse[i] = v
		mm.clearChunk(i)
		return
	}
	for int(c) >= len(mm.chunks) {
		mm.chunks = append(mm.chunks, make([]uint32, memoChunk))
	}
	if mm.chunks[c][j] == 0 {
		if _, ok := mm.sparse[i]; mm.sparse != nil && ok {
			delete(mm.sparse, i)
		} else {
			mm.len++
		}
	}
	mm.chunks[c][j] = code
}

func (mm *memo) inChunks(i uint64) bool {
	c := i / memoChunk
	return c < uint64(len(mm.chunks)) && mm.chunks[c][i%memoChunk] != 0
}

func (mm *memo) clearChunk(i uint64) {
	if mm.inChunks(i) {
		mm.chunks[i/memoChunk][i%memoChunk] = 0
	}
}

func (mm *memo) get(i uint64) (val, bool) {
	if mm.inChunks(i) {
		code := mm.chunks[i/memoChunk][i%memoChunk]
		switch {
		case code >= slotVal:
			return mm.vals[code-slotVal], true
		case code == slotOpaqueStr:
			return val{k: kStr, p: opaqueStr}, true
		case code == slotOpaqueBytes:
			return val{k: kBytes, p: opaqueStr}, true
		}
		return val{k: kind(code - 1)}, true
	}
	if mm.sparse == nil {
		return val{}, false
	}
	v, ok := mm.sparse[i]
	return v, ok
}
