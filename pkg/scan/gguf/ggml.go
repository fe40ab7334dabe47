package gguf

import (
	"context"
	"encoding/binary"
	"io"

	"github.com/modelverify/modelverify/pkg/scan"
)

// GGML is the file format that llama.cpp wrote before GGUF and that
// whisper.cpp still writes (ggml-*.bin): a little-endian magic ("ggml",
// "ggmf" or "ggjt", the latter two followed by a version), the model's
// hyperparameters as 32-bit integers, the vocabulary and the tensors. It
// holds no metadata that a loader renders or runs and no code, so a file
// that has its header is judged clean; the tensors are not read.
type GGML struct{}

var _ scan.Format = GGML{}

// GGML magics, as the little-endian uint32 at offset 0.
const (
	magicGGML = 0x67676d6c // unversioned: whisper.cpp and early llama.cpp
	magicGGMF = 0x67676d66 // versioned (version 1)
	magicGGJT = 0x67676a74 // versioned, mmap-able (versions 1 to 3)
)

// Name implements scan.Format.
func (GGML) Name() string { return "ggml" }

// maxVocab bounds the vocabulary size a real GGML header declares.
const maxVocab = 1 << 24

// Match implements scan.Format: a GGML magic, a known version where the
// variant has one, and a vocabulary size that a real model has as the first
// hyperparameter. A pickle cannot start with these bytes and load: "l" and
// "t" need a MARK, "f" is no opcode.
func (GGML) Match(head []byte, size int64) bool {
	hp, ok := ggmlHyperparameters(head)
	if !ok || len(hp) < 4 {
		return false
	}
	n := int32(binary.LittleEndian.Uint32(hp))
	return n > 0 && n <= maxVocab
}

// ggmlHyperparameters returns the bytes after the magic and the version.
func ggmlHyperparameters(head []byte) ([]byte, bool) {
	if len(head) < 8 {
		return nil, false
	}
	switch binary.LittleEndian.Uint32(head) {
	case magicGGML:
		return head[4:], true
	case magicGGMF:
		if binary.LittleEndian.Uint32(head[4:]) == 1 {
			return head[8:], true
		}
	case magicGGJT:
		if v := binary.LittleEndian.Uint32(head[4:]); v >= 1 && v <= 3 {
			return head[8:], true
		}
	}
	return nil, false
}

// Scan implements scan.Format. Match has checked the header; nothing else
// in the file is loaded as code or rendered.
func (GGML) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return ctx.Err()
}
