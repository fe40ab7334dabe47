package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Resolve resolves ref in target, fetches its manifest (at most
// MaxManifestBytes, digest verified) and checks that it is a model manifest:
// an OCI image manifest whose artifactType or config media type is
// ModelPack's, with a sha256 config digest and at most MaxLayers layers. The
// layers' paths are not checked here; LayerResources and Pull do that.
func Resolve(ctx context.Context, target Target, ref Ref) (ocispec.Descriptor, ocispec.Manifest, error) {
	desc, err := target.Resolve(ctx, ref.Reference())
	if err != nil {
		return ocispec.Descriptor{}, ocispec.Manifest{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if ref.Digest != "" && desc.Digest != ref.Digest {
		return ocispec.Descriptor{}, ocispec.Manifest{}, fmt.Errorf("resolve %s: %w: got %s", ref, ErrDigestMismatch, desc.Digest)
	}
	m, err := FetchManifest(ctx, target, desc)
	if err != nil {
		return ocispec.Descriptor{}, ocispec.Manifest{}, fmt.Errorf("%s: %w", ref, err)
	}
	return desc, m, nil
}

// FetchManifest fetches the manifest that desc describes and validates it as
// Resolve does.
func FetchManifest(ctx context.Context, target Target, desc ocispec.Descriptor) (ocispec.Manifest, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return ocispec.Manifest{}, fmt.Errorf("%w: media type %q", ErrNotModel, desc.MediaType)
	}
	b, err := fetchBounded(ctx, target, desc, MaxManifestBytes)
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch manifest: %w", err)
	}
	return parseManifest(b)
}

// parseManifest decodes and validates a model manifest.
func parseManifest(b []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if dec.More() {
		return ocispec.Manifest{}, fmt.Errorf("%w: trailing data after the manifest", ErrInvalidManifest)
	}
	switch {
	case m.SchemaVersion != 2:
		return ocispec.Manifest{}, fmt.Errorf("%w: schemaVersion %d", ErrInvalidManifest, m.SchemaVersion)
	case m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest:
		return ocispec.Manifest{}, fmt.Errorf("%w: media type %q", ErrNotModel, m.MediaType)
	case m.ArtifactType != ArtifactTypeModel && m.Config.MediaType != MediaTypeModelConfig:
		return ocispec.Manifest{}, fmt.Errorf("%w: artifactType %q, config %q", ErrNotModel, m.ArtifactType, m.Config.MediaType)
	case len(m.Layers) > MaxLayers:
		return ocispec.Manifest{}, fmt.Errorf("%w: %d layers (max %d)", ErrTooLarge, len(m.Layers), MaxLayers)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("%w: config digest: %v", ErrInvalidManifest, err)
	}
	if m.Config.Size < 0 {
		return ocispec.Manifest{}, fmt.Errorf("%w: config size %d", ErrInvalidManifest, m.Config.Size)
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return ocispec.Manifest{}, fmt.Errorf("%w: layer digest %q: %v", ErrInvalidManifest, l.Digest, err)
		}
		if l.Size < 0 {
			return ocispec.Manifest{}, fmt.Errorf("%w: layer %s size %d", ErrInvalidManifest, l.Digest, l.Size)
		}
	}
	return m, nil
}

// FetchConfig fetches and decodes the model config of m (at most
// MaxConfigBytes, digest verified).
func FetchConfig(ctx context.Context, target Target, m ocispec.Manifest) (ModelConfig, error) {
	if m.Config.MediaType != MediaTypeModelConfig {
		return ModelConfig{}, fmt.Errorf("%w: config media type %q", ErrNotModel, m.Config.MediaType)
	}
	b, err := fetchBounded(ctx, target, m.Config, MaxConfigBytes)
	if err != nil {
		return ModelConfig{}, fmt.Errorf("fetch config: %w", err)
	}
	return parseConfig(b)
}

// fetchBounded reads a small blob or manifest whole, refusing one whose
// declared size exceeds limit, and verifying size and digest.
func fetchBounded(ctx context.Context, target Target, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes (max %d)", ErrTooLarge, desc.Digest, desc.Size, limit)
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: digest %q: %v", ErrInvalidManifest, desc.Digest, err)
	}
	rc, err := target.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(desc.Size))
	if _, err := CopyVerified(&buf, io.LimitReader(rc, desc.Size+1), desc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newBytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
