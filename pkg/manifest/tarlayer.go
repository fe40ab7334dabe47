package manifest

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// TarLimits bound one tar layer. The zero value means MaxTarEntries and
// MaxTarBytes.
type TarLimits struct {
	// MaxEntries bounds the entries (files and directories) of a layer.
	MaxEntries int
	// MaxBytes bounds the regular-file bytes of a layer after decompression.
	MaxBytes int64
}

func (l TarLimits) orDefault() TarLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = MaxTarEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = MaxTarBytes
	}
	return l
}

// TarFileFunc receives one regular file of a tar layer: its path (valid as
// ValidatePath says), its size, and a reader of exactly size bytes.
type TarFileFunc func(rel string, size int64, r io.Reader) error

// decompress returns the tar stream of a layer blob in form f.
func decompress(r io.Reader, f LayerFormat) (io.Reader, func(), error) {
	switch f {
	case FormatTar:
		return r, func() {}, nil
	case FormatTarGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrInvalidManifest, err)
		}
		return zr, func() { zr.Close() }, nil
	case FormatTarZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindowBytes), zstd.WithDecoderMaxMemory(MaxZstdWindowBytes*2))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %v", ErrInvalidManifest, err)
		}
		return zr, zr.Close, nil
	default:
		return nil, nil, fmt.Errorf("%w: layer form %q is not a tar", ErrUnsupportedLayer, f)
	}
}

// ReadTarLayer reads the tar layer blob r (in form f) and calls fn for each
// regular file, in archive order. It refuses what an extraction could be
// tricked by: symbolic and hard links, devices, FIFOs and other special
// entries, and paths that ValidatePath refuses (absolute, "..", ...), all
// with ErrUnsafePath; more entries or bytes than lim allows, with
// ErrTooLarge; a damaged tar or compressed stream, with ErrInvalidManifest.
// Directory entries only need a valid path. A leading "./" is dropped, as
// tar writes it for "tar -C dir .". Duplicate paths are the caller's to
// refuse. It does not check the blob's digest: wrap r in a verifying reader
// and check it after ReadTarLayer returns.
func ReadTarLayer(ctx context.Context, r io.Reader, f LayerFormat, lim TarLimits, fn TarFileFunc) error {
	return readTar(ctx, r, f, lim, fn, nil)
}

// readTar is ReadTarLayer; when skip is not nil, links, devices and other
// special entries are passed to it and skipped instead of refused (image
// layers hold them; nothing is ever created for them).
func readTar(ctx context.Context, r io.Reader, f LayerFormat, lim TarLimits, fn TarFileFunc, skip func(*tar.Header)) error {
	lim = lim.orDefault()
	tr0, closeFn, err := decompress(r, f)
	if err != nil {
		return err
	}
	defer closeFn()
	tr := tar.NewReader(&ctxReader{ctx: ctx, r: tr0})
	var entries int
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: tar: %v", ErrInvalidManifest, err)
		}
		entries++
		if entries > lim.MaxEntries {
			return fmt.Errorf("%w: more than %d tar entries in a layer", ErrTooLarge, lim.MaxEntries)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if skip != nil {
			// Image layers may name files from the root.
			name = strings.TrimLeft(name, "/")
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeDir:
			name = strings.TrimSuffix(name, "/")
			if name == "" || name == "." {
				continue
			}
			if err := ValidatePath(name); err != nil {
				return fmt.Errorf("tar directory: %w", err)
			}
			continue
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			if skip != nil {
				skip(hdr)
				continue
			}
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: tar entry %q is a link (to %q); links are refused", ErrUnsafePath, hdr.Name, hdr.Linkname)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return fmt.Errorf("%w: tar entry %q is a device or FIFO", ErrUnsafePath, hdr.Name)
		default:
			return fmt.Errorf("%w: tar entry %q has type %q", ErrUnsafePath, hdr.Name, hdr.Typeflag)
		}
		if err := ValidatePath(name); err != nil {
			return fmt.Errorf("tar entry: %w", err)
		}
		if hdr.Size > lim.MaxBytes-total {
			return fmt.Errorf("%w: tar layer expands beyond %d bytes", ErrTooLarge, lim.MaxBytes)
		}
		total += hdr.Size
		cr := &countingReader{r: tr}
		if err := fn(name, hdr.Size, io.LimitReader(cr, hdr.Size)); err != nil {
			return err
		}
		if cr.n != hdr.Size {
			// fn stopped early; read the rest so that the stream stays in step.
			if _, err := io.Copy(io.Discard, io.LimitReader(cr, hdr.Size-cr.n)); err != nil {
				return fmt.Errorf("%w: tar: %v", ErrInvalidManifest, err)
			}
			if cr.n != hdr.Size {
				return fmt.Errorf("%w: tar entry %q is truncated", ErrInvalidManifest, hdr.Name)
			}
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: tar: %v", ErrInvalidManifest, err)
	}
	return n, err
}

// newCompressor returns the deterministic compressor of form f writing to w,
// or nil for a plain tar.
func newCompressor(w io.Writer, f LayerFormat) (io.WriteCloser, error) {
	switch f {
	case FormatTar:
		return nil, nil
	case FormatTarGzip:
		return gzip.NewWriter(w), nil
	case FormatTarZstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	}
	return nil, fmt.Errorf("layer form %q is not a tar", f)
}

// compressTo compresses r into w as form f (gzip or zstd) deterministically.
func compressTo(w io.Writer, f LayerFormat, r io.Reader) error {
	zw, err := newCompressor(w, f)
	if err != nil {
		return err
	}
	if zw == nil {
		return fmt.Errorf("layer form %q is not compressed", f)
	}
	if _, err := io.Copy(zw, r); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}

// writeTarLayer writes the layer blob of one file in form f, deterministically:
// a tar holding the file at rel (mode 0644, owner 0, time zero), compressed
// by f. The same input always gives the same bytes, so push can hash a layer
// and then upload it without storing it.
func writeTarLayer(w io.Writer, f LayerFormat, rel string, size int64, r io.Reader) error {
	zw, err := newCompressor(w, f)
	if err != nil {
		return err
	}
	out := w
	if zw != nil {
		out = zw
	}
	tw := tar.NewWriter(out)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: size}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: %w: file changed size while being pushed", rel, ErrDigestMismatch)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}
