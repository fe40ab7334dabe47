package pickle

// memoChunk is the size of one memo block. The memo grows in blocks so that
// a pickle of millions of memoised objects never copies it.
const memoChunk = 1 << 16

// memo is CPython's unpickler memo: dense indices in blocks, sparse ones in a
// map. len counts the keys set, which is where MEMOIZE stores next.
type memo struct {
	chunks [][]val
	set    [][]bool
	sparse map[uint64]val
	len    int
}

// denseMax is the largest index kept in blocks; hostile PUT indices beyond it
// go to the map and cost only what they store.
const denseMax = 1 << 26

func (mm *memo) put(i uint64, v val) {
	if i >= denseMax {
		if mm.sparse == nil {
			mm.sparse = map[uint64]val{}
		}
		if _, ok := mm.sparse[i]; !ok {
			mm.len++
		}
		mm.sparse[i] = v
		return
	}
	c := int(i / memoChunk)
	if c >= len(mm.chunks) && c > len(mm.chunks)+16 {
		// A far index: keep it sparse rather than allocating blocks between.
		if mm.sparse == nil {
			mm.sparse = map[uint64]val{}
		}
		if _, ok := mm.sparse[i]; !ok {
			mm.len++
		}
		mm.sparse[i] = v
		return
	}
	for c >= len(mm.chunks) {
		mm.chunks = append(mm.chunks, make([]val, memoChunk))
		mm.set = append(mm.set, make([]bool, memoChunk))
	}
	j := i % memoChunk
	if !mm.set[c][j] {
		mm.len++
		mm.set[c][j] = true
	}
	mm.chunks[c][j] = v
}

func (mm *memo) get(i uint64) (val, bool) {
	c := i / memoChunk
	if c < uint64(len(mm.chunks)) {
		j := i % memoChunk
		if mm.set[c][j] {
			return mm.chunks[c][j], true
		}
	}
	v, ok := mm.sparse[i]
	return v, ok
}
