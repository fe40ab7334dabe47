package gguf_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/gguf"
)

// ggmlFile writes a GGML header: magic, version (when v > 0) and
// hyperparameters, then some tensor bytes.
func ggmlFile(magic, version uint32, hparams ...int32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, magic)
	if version > 0 {
		binary.Write(&b, binary.LittleEndian, version)
	}
	for _, h := range hparams {
		binary.Write(&b, binary.LittleEndian, h)
	}
	b.Write(bytes.Repeat([]byte{0x3c}, 256))
	return b.Bytes()
}

func scanNamed(t *testing.T, name string, b []byte) scan.Target {
	t.Helper()
	sc := scan.MustNew(scan.Options{Formats: all.Formats()})
	return sc.ScanReaderAt(context.Background(), name, bytes.NewReader(b), int64(len(b)))
}

func TestLegacyGGMLIsRecognised(t *testing.T) {
	whisper := ggmlFile(0x67676d6c, 0, 51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1) // ggml-tiny.bin's header
	llama := ggmlFile(0x67676a74, 3, 32000, 4096, 256, 32, 32, 128, 2)
	for name, b := range map[string][]byte{"ggml-tiny.bin": whisper, "ggml-model-q4_0.bin": llama, "ggmf.bin": ggmlFile(0x67676d66, 1, 32000, 4096)} {
		tg := scanNamed(t, name, b)
		if tg.Format != "ggml" || tg.Verdict != scan.VerdictClean {
			t.Errorf("%s: format %s verdict %s %+v", name, tg.Format, tg.Verdict, tg.Findings)
		}
	}
	for name, b := range map[string][]byte{
		"unknown ggjt version": ggmlFile(0x67676a74, 9, 32000),
		"zero vocabulary":      ggmlFile(0x67676d6c, 0, 0),
		"huge vocabulary":      ggmlFile(0x67676d6c, 0, 1<<30),
		"magic alone":          {0x6c, 0x6d, 0x67, 0x67},
	} {
		if (gguf.GGML{}).Match(b, int64(len(b))) {
			t.Errorf("%s: matched", name)
		}
	}
}

// A tar whose first member is named like the GGML magic is read by
// torch.load's legacy path as a tar: the container wins.
func TestGGMLMagicDoesNotHideATar(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	name := string([]byte{0x6c, 0x6d, 0x67, 0x67, 0x01, 0x02})
	payload := []byte("\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(payload))})
	tw.Write(payload)
	tw.Close()
	tg := scanNamed(t, "pytorch_model.bin", b.Bytes())
	if tg.Format == "ggml" || tg.Verdict != scan.VerdictDangerous {
		t.Errorf("format %s verdict %s %+v", tg.Format, tg.Verdict, tg.Findings)
	}
}

func FuzzGGMLMatch(f *testing.F) {
	f.Add(ggmlFile(0x67676d6c, 0, 51865, 1500))
	f.Add(ggmlFile(0x67676a74, 3, 32000))
	f.Fuzz(func(t *testing.T, b []byte) {
		if (gguf.GGML{}).Match(b, int64(len(b))) {
			if err := (gguf.GGML{}).Scan(context.Background(), nil, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
		}
	})
}
