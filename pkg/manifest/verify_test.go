package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestCopyVerified(t *testing.T) {
	blob := []byte("model weights")
	desc := content.NewDescriptorFromBytes("application/octet-stream", blob)
	network := errors.New("connection reset by peer")
	tests := []struct {
		name string
		desc ocispec.Descriptor
		r    io.Reader
		want error
	}{
		{"the blob", desc, bytes.NewReader(blob), nil},
		{"a short blob", desc, bytes.NewReader(blob[:5]), ErrDigestMismatch},
		{"trailing data", desc, io.MultiReader(bytes.NewReader(blob), strings.NewReader("!")), ErrDigestMismatch},
		{"other bytes of the same size", desc, strings.NewReader("model weightz"), ErrDigestMismatch},
		{"an empty stream", desc, strings.NewReader(""), ErrDigestMismatch},
		{"an invalid digest", ocispec.Descriptor{Digest: "sha256:xyz", Size: 13}, bytes.NewReader(blob), ErrInvalidManifest},
		{"an unknown algorithm", ocispec.Descriptor{Digest: "md5:0123456789abcdef0123456789abcdef", Size: 13}, bytes.NewReader(blob), ErrInvalidManifest},
		{"a negative size", ocispec.Descriptor{Digest: desc.Digest, Size: -1}, bytes.NewReader(blob), ErrInvalidManifest},
		{"a transport error is not a mismatch", desc, failingReader{network}, network},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		_, err := CopyVerified(&out, tt.r, tt.desc)
		if tt.want == nil {
			if err != nil || !bytes.Equal(out.Bytes(), blob) {
				t.Errorf("%s: %v, wrote %q", tt.name, err, out.Bytes())
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == network && errors.Is(err, ErrDigestMismatch) {
			t.Errorf("%s: classified as a digest mismatch", tt.name)
		}
	}
}

func TestBadArtifactIsClassifiedWhereTheSentinelIsMade(t *testing.T) {
	for _, e := range []error{ErrNotModel, ErrInvalidManifest, ErrUnsafePath, ErrUnsupportedLayer, ErrTooLarge, ErrDigestMismatch} {
		if !IsBadArtifact(fmt.Errorf("fetch layer: %w", e)) {
			t.Errorf("%v is not a bad artifact", e)
		}
		if !errors.Is(fmt.Errorf("x: %w", e), e) {
			t.Errorf("%v does not match itself through a wrap", e)
		}
	}
	for _, e := range []error{ErrInvalidReference, ErrEmpty, errors.New("dial tcp 127.0.0.1:1: connection refused"), io.ErrUnexpectedEOF, nil} {
		if IsBadArtifact(e) {
			t.Errorf("%v is classified as a bad artifact", e)
		}
	}
	if errors.Is(ErrTooLarge, ErrDigestMismatch) {
		t.Error("two sentinels compare equal")
	}
}
