package compress

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Formats returns every compressed-stream format of this package.
func Formats() []scan.Format {
	return []scan.Format{Gzip{}, Bzip2{}, XZ{}, Zstd{}, LZ4{}, Zlib{}, JoblibZF{}, LZMA{}}
}

var (
	_ scan.Format = Gzip{}
	_ scan.Format = Bzip2{}
	_ scan.Format = XZ{}
	_ scan.Format = Zstd{}
	_ scan.Format = LZ4{}
	_ scan.Format = Zlib{}
	_ scan.Format = JoblibZF{}
	_ scan.Format = LZMA{}
)

// Gzip is a gzip stream (possibly several members, as gzip concatenates).
type Gzip struct{}

// Name implements scan.Format.
func (Gzip) Name() string { return "gzip" }

// Match implements scan.Format.
func (Gzip) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte{0x1f, 0x8b, 0x08})
}

// Scan implements scan.Format.
func (Gzip) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return malformed("gzip", err)
	}
	defer zr.Close()
	_, err = Decompress(ctx, s, "[gzip]", zr, in)
	return err
}

// Bzip2 is a bzip2 stream.
type Bzip2 struct{}

// Name implements scan.Format.
func (Bzip2) Name() string { return "bzip2" }

// Match implements scan.Format: "BZh", the block size digit, then the magic
// of a block or of the end of the stream.
func (Bzip2) Match(head []byte, size int64) bool {
	if len(head) < 10 || !bytes.HasPrefix(head, []byte("BZh")) || head[3] < '1' || head[3] > '9' {
		return false
	}
	return bytes.Equal(head[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) ||
		bytes.Equal(head[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})
}

// Scan implements scan.Format.
func (Bzip2) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	_, err := Decompress(ctx, s, "[bz2]", bzip2.NewReader(br), in)
	return err
}

// XZ is an xz stream.
type XZ struct{}

// Name implements scan.Format.
func (XZ) Name() string { return "xz" }

// Match implements scan.Format.
func (XZ) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00})
}

// Scan implements scan.Format.
func (XZ) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	// The xz reader raises its dictionary to what each block declares; it is
	// allocated lazily by the runtime, and the ratio limit bounds what is written.
	cfg := xz.ReaderConfig{}
	zr, err := cfg.NewReader(br)
	if err != nil {
		return malformed("xz", err)
	}
	_, err = Decompress(ctx, s, "[xz]", zr, in)
	return err
}

// LZMA is the legacy "lzma alone" stream that Python's lzma.FORMAT_ALONE
// (joblib's "lzma" compressor) writes: a properties byte, a 32-bit
// dictionary size and a 64-bit uncompressed size (all ones when unknown).
type LZMA struct{}

// Name implements scan.Format.
func (LZMA) Name() string { return "lzma" }

// Match implements scan.Format. The properties byte is lc+lp*9+pb*45 < 225;
// Python always writes 0x5d (lc=3, lp=0, pb=2). The dictionary size must be
// 2^n or 2^n+2^(n-1), as encoders write it, which a pickle starting with
// EMPTY_LIST (also 0x5d) never matches.
func (LZMA) Match(head []byte, size int64) bool {
	if len(head) < 13 || head[0] != 0x5d {
		return false
	}
	d := binary.LittleEndian.Uint32(head[1:5])
	if d < 1<<12 {
		return false
	}
	ok := false
	for n := 12; n < 32; n++ {
		if d == 1<<n || d == 1<<n|1<<(n-1) {
			ok = true
			break
		}
	}
	u := binary.LittleEndian.Uint64(head[5:13])
	return ok && (u == ^uint64(0) || u < 1<<50)
}

// Scan implements scan.Format.
func (LZMA) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	cfg := lzma.ReaderConfig{DictCap: dictCap(s)}
	zr, err := cfg.NewReader(br)
	if err != nil {
		return malformed("lzma", err)
	}
	_, err = Decompress(ctx, s, "[lzma]", zr, in)
	return err
}

// Zstd is a zstd frame sequence.
type Zstd struct{}

// Name implements scan.Format.
func (Zstd) Name() string { return "zstd" }

// Match implements scan.Format.
func (Zstd) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd})
}

// Scan implements scan.Format.
func (Zstd) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	zr, err := NewZstdReader(br, s)
	if err != nil {
		return malformed("zstd", err)
	}
	defer zr.Close()
	_, err = Decompress(ctx, s, "[zstd]", zr, in)
	return err
}

// NewZstdReader opens a zstd stream with the session's window limit and a
// single decoding goroutine.
func NewZstdReader(r io.Reader, s *scan.Session) (*zstd.Decoder, error) {
	w := uint64(dictCap(s))
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(max(w, zstd.MinWindowSize)),
		zstd.WithDecoderMaxMemory(uint64(s.Limits().MaxExpandedBytes)), zstd.WithDecoderLowmem(true))
}

// LZ4 is an lz4 frame stream (the lz4 command and Python's lz4.frame).
type LZ4 struct{}

// Name implements scan.Format.
func (LZ4) Name() string { return "lz4" }

// Match implements scan.Format.
func (LZ4) Match(head []byte, size int64) bool {
	return bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18})
}

// Scan implements scan.Format.
func (LZ4) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	in, br := input(r, 0, size)
	_, err := Decompress(ctx, s, "[lz4]", lz4.NewReader(br), in)
	return err
}

// Zlib is a zlib stream, as joblib's "zlib" compressor writes it.
type Zlib struct{}

// Name implements scan.Format.
func (Zlib) Name() string { return "zlib" }

// Match implements scan.Format. Only the 32 KiB window (0x78) is accepted:
// every zlib writer uses it, and the other CMF bytes are pickle opcodes.
func (Zlib) Match(head []byte, size int64) bool {
	return len(head) >= 2 && head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 && head[1]&0x20 == 0
}

// Scan implements scan.Format.
func (Zlib) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return scanZlib(ctx, s, r, 0, size, "[zlib]")
}

func scanZlib(ctx context.Context, s *scan.Session, r io.ReaderAt, off, size int64, member string) error {
	in, br := input(r, off, size)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return malformed("zlib", err)
	}
	defer zr.Close()
	_, err = Decompress(ctx, s, member, zr, in)
	return err
}

// JoblibZF is the container of joblib before 0.10 (still read by
// joblib.load): "ZF", the uncompressed length as a Python hex literal
// padded with spaces to 19 bytes, then a zlib stream.
type JoblibZF struct{}

// zfHeader is len("ZF") + len(hex(2**64)).
const zfHeader = 2 + 19

// Name implements scan.Format.
func (JoblibZF) Name() string { return "joblib-zfile" }

// Match implements scan.Format.
func (JoblibZF) Match(head []byte, size int64) bool {
	if len(head) < zfHeader+2 || !bytes.HasPrefix(head, []byte("ZF0x")) {
		return false
	}
	n := strings.TrimRight(strings.TrimSuffix(strings.TrimRight(string(head[4:zfHeader]), " "), "L"), " ")
	_, err := strconv.ParseUint(n, 16, 64)
	return err == nil && head[zfHeader] == 0x78
}

// Scan implements scan.Format.
func (JoblibZF) Scan(ctx context.Context, s *scan.Session, r io.ReaderAt, size int64) error {
	return scanZlib(ctx, s, r, zfHeader, size, "[zlib]")
}

// dictCap is the largest decompression window or dictionary allowed.
func dictCap(s *scan.Session) int {
	return int(min(s.Limits().MaxWindowBytes, 1<<31-1))
}
