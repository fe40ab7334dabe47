package manifest

import (
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// VerifyingReader reads a blob and checks, once it has been read to its
// end, that it has exactly the size and digest of its descriptor. Every
// digest-checked read of registry content goes through it, so that a
// mismatch is always ErrDigestMismatch.
type VerifyingReader struct {
	desc ocispec.Descriptor
	vr   *content.VerifyReader
}

// NewVerifyingReader reads the blob desc from r. A descriptor whose digest
// is not valid, or whose algorithm is not available, is refused with
// ErrInvalidManifest.
func NewVerifyingReader(r io.Reader, desc ocispec.Descriptor) (*VerifyingReader, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: digest %q: %v", ErrInvalidManifest, desc.Digest, err)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("%w: %s has size %d", ErrInvalidManifest, desc.Digest, desc.Size)
	}
	return &VerifyingReader{desc: desc, vr: content.NewVerifyReader(r, desc)}, nil
}

// Read reads from the blob, never past its declared size. A blob that ends
// early is ErrDigestMismatch.
func (v *VerifyingReader) Read(p []byte) (int, error) {
	n, err := v.vr.Read(p)
	if err != nil && err != io.EOF {
		err = v.classify(err)
	}
	return n, err
}

// Verify reads what is left of the blob (padding after a tar archive's end
// belongs to it too) and checks its size and digest.
func (v *VerifyingReader) Verify() error {
	if _, err := io.Copy(io.Discard, v.vr); err != nil {
		return v.classify(err)
	}
	if err := v.vr.Verify(); err != nil {
		return v.classify(err)
	}
	return nil
}

func (v *VerifyingReader) classify(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
		return fmt.Errorf("%w: %s: %v", ErrDigestMismatch, v.desc.Digest, err)
	}
	return err
}

// CopyVerified copies the blob desc from r to w and checks its size and
// digest. It returns the digest it checked.
func CopyVerified(w io.Writer, r io.Reader, desc ocispec.Descriptor) (digest.Digest, error) {
	v, err := NewVerifyingReader(r, desc)
	if err != nil {
		return "", err
	}
	if desc.Size >= 1<<20 {
		_, err = io.CopyBuffer(w, v, make([]byte, 1<<20))
	} else {
		_, err = io.Copy(w, v)
	}
	if err != nil {
		return "", err
	}
	if err := v.Verify(); err != nil {
		return "", err
	}
	return desc.Digest, nil
}
