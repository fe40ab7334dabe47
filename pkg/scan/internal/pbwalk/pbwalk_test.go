package pbwalk

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelverify/modelverify/pkg/scan"
)

func TestWalk(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "hello")
	b = protowire.AppendTag(b, 3, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 9)
	r := NewReader(bytes.NewReader(b), int64(len(b)))
	var got []Field
	if err := r.Walk(0, int64(len(b)), func(f Field) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Value != 300 || got[2].Value != 7 || got[3].Value != 9 {
		t.Fatalf("%+v", got)
	}
	s, err := r.String(got[1], 100, "x")
	if err != nil || s != "hello" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := r.String(got[1], 3, "x"); !errors.Is(err, scan.ErrLimit) {
		t.Fatalf("limit: %v", err)
	}
}

func TestWalkRejectsLies(t *testing.T) {
	for name, b := range map[string][]byte{
		"length past the end": {0x12, 0x10, 'a'},
		"truncated varint":    {0x08, 0xff},
		"group wire type":     {0x0b, 0x0c},
		"bad tag":             {0x00},
	} {
		r := NewReader(bytes.NewReader(b), int64(len(b)))
		err := r.Walk(0, int64(len(b)), func(Field) error { return nil })
		if !errors.Is(err, scan.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzWalk(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x12, 0x03, 0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), int64(len(b)))
		var walk func(off, n int64, depth int) error
		walk = func(off, n int64, depth int) error {
			return r.Walk(off, n, func(fd Field) error {
				if fd.Type == protowire.BytesType {
					if fd.Off+fd.Len > int64(len(b)) {
						t.Fatalf("field outside input")
					}
					if depth < 8 {
						walk(fd.Off, fd.Len, depth+1)
					}
				}
				return nil
			})
		}
		walk(0, int64(len(b)), 0)
	})
}
