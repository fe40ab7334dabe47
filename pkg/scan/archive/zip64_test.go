package archive_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
)

// zip64 writes a stored zip in the form PyTorch uses for checkpoints over
// 4 GiB: every size and offset in the central directory is 0xFFFFFFFF with
// the real value in a zip64 extra field, and the end record points to a
// zip64 end record through its locator.
func zip64(members map[string][]byte, order []string) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	type ent struct {
		name string
		off  uint64
		size uint64
	}
	var ents []ent
	for _, name := range order {
		data := members[name]
		off := uint64(b.Len())
		h := make([]byte, 30)
		le.PutUint32(h, 0x04034b50)
		le.PutUint16(h[4:], 45)
		le.PutUint32(h[18:], 0xFFFFFFFF)
		le.PutUint32(h[22:], 0xFFFFFFFF)
		le.PutUint16(h[26:], uint16(len(name)))
		le.PutUint16(h[28:], 20)
		extra := make([]byte, 20)
		le.PutUint16(extra, 1)
		le.PutUint16(extra[2:], 16)
		le.PutUint64(extra[4:], uint64(len(data)))
		le.PutUint64(extra[12:], uint64(len(data)))
		b.Write(h)
		b.WriteString(name)
		b.Write(extra)
		b.Write(data)
		ents = append(ents, ent{name, off, uint64(len(data))})
	}
	cdStart := uint64(b.Len())
	for _, e := range ents {
		h := make([]byte, 46)
		le.PutUint32(h, 0x02014b50)
		le.PutUint16(h[4:], 45)
		le.PutUint16(h[6:], 45)
		le.PutUint32(h[20:], 0xFFFFFFFF)
		le.PutUint32(h[24:], 0xFFFFFFFF)
		le.PutUint16(h[28:], uint16(len(e.name)))
		le.PutUint16(h[30:], 28)
		le.PutUint32(h[42:], 0xFFFFFFFF)
		extra := make([]byte, 28)
		le.PutUint16(extra, 1)
		le.PutUint16(extra[2:], 24)
		le.PutUint64(extra[4:], e.size)
		le.PutUint64(extra[12:], e.size)
		le.PutUint64(extra[20:], e.off)
		b.Write(h)
		b.WriteString(e.name)
		b.Write(extra)
	}
	cdSize := uint64(b.Len()) - cdStart
	end64 := uint64(b.Len())
	r := make([]byte, 56)
	le.PutUint32(r, 0x06064b50)
	le.PutUint64(r[4:], 44)
	le.PutUint16(r[12:], 45)
	le.PutUint16(r[14:], 45)
	le.PutUint64(r[24:], uint64(len(ents)))
	le.PutUint64(r[32:], uint64(len(ents)))
	le.PutUint64(r[40:], cdSize)
	le.PutUint64(r[48:], cdStart)
	b.Write(r)
	loc := make([]byte, 20)
	le.PutUint32(loc, 0x07064b50)
	le.PutUint64(loc[8:], end64)
	le.PutUint32(loc[16:], 1)
	b.Write(loc)
	end := make([]byte, 22)
	le.PutUint32(end, 0x06054b50)
	le.PutUint16(end[8:], 0xFFFF)
	le.PutUint16(end[10:], 0xFFFF)
	le.PutUint32(end[12:], 0xFFFFFFFF)
	le.PutUint32(end[16:], 0xFFFFFFFF)
	b.Write(end)
	return b.Bytes()
}

func TestZip64CheckpointIsRead(t *testing.T) {
	z := zip64(map[string][]byte{
		"big/data.pkl": evil,
		"big/data/0":   make([]byte, 64),
		"big/version":  []byte("3\n"),
	}, []string{"big/data.pkl", "big/data/0", "big/version"})
	tg := scanBytes(t, z, scan.Limits{})
	if tg.Format != "pytorch-zip" {
		t.Errorf("format %s: %+v", tg.Format, tg.Findings)
	}
	if !hasDanger(tg, "big/data.pkl") {
		t.Errorf("payload not found: %+v", tg.Findings)
	}
	for _, f := range tg.Findings {
		if f.RuleID == scan.RuleArchive || f.RuleID == scan.RuleMalformed {
			t.Errorf("unexpected finding %+v", f)
		}
	}
}
