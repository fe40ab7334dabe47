package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker media types that images (and modelcars built with docker) use.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// ArtifactKind is what a manifest holds.
type ArtifactKind int

const (
	// KindModelArtifact: a ModelPack model manifest.
	KindModelArtifact ArtifactKind = iota
	// KindImage: an OCI or Docker container image, whose layers are
	// filesystem changesets (a KServe modelcar is one).
	KindImage
	// KindOther: any other artifact (oras's default types, a Helm chart,
	// ...): its layers are blobs.
	KindOther
)

func (k ArtifactKind) String() string {
	switch k {
	case KindModelArtifact:
		return "model"
	case KindImage:
		return "image"
	default:
		return "artifact"
	}
}

// Artifact is a resolved manifest of any kind.
type Artifact struct {
	// Descriptor is the manifest's (for an index, the platform manifest
	// chosen from it).
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	Kind       ArtifactKind
	// Index is the index or manifest list ref resolved to, if any.
	Index *ocispec.Descriptor
}

// ImageLayerFormat returns the form of a container image layer media type
// (OCI tar, tar+gzip, tar+zstd, their non-distributable variants, and
// Docker's gzip rootfs layer) and whether mediaType is one.
func ImageLayerFormat(mediaType string) (LayerFormat, bool) {
	switch mediaType {
	// The non-distributable variants are deprecated for new images but
	// still found in old ones, so they are spelled out here.
	case ocispec.MediaTypeImageLayer, "application/vnd.oci.image.layer.nondistributable.v1.tar":
		return FormatTar, true
	case ocispec.MediaTypeImageLayerGzip, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", MediaTypeDockerLayer,
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return FormatTarGzip, true
	case ocispec.MediaTypeImageLayerZstd, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
		return FormatTarZstd, true
	}
	return "", false
}

// ResolveArtifact resolves ref to a manifest of any kind, bounded and
// digest-verified like Resolve. An OCI image index or Docker manifest list
// is resolved to its linux/amd64 manifest, else its first image manifest.
// Only a manifest that cannot be read at all is an error; what it holds is
// told by Kind.
func ResolveArtifact(ctx context.Context, target Target, ref Ref) (Artifact, error) {
	desc, err := target.Resolve(ctx, ref.Reference())
	if err != nil {
		return Artifact{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if ref.Digest != "" && desc.Digest != ref.Digest {
		return Artifact{}, fmt.Errorf("resolve %s: %w: got %s", ref, ErrDigestMismatch, desc.Digest)
	}
	var a Artifact
	if desc.MediaType == ocispec.MediaTypeImageIndex || desc.MediaType == MediaTypeDockerManifestList {
		b, err := fetchBounded(ctx, target, desc, MaxManifestBytes)
		if err != nil {
			return Artifact{}, fmt.Errorf("%s: fetch index: %w", ref, err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return Artifact{}, fmt.Errorf("%s: %w: index: %v", ref, ErrInvalidManifest, err)
		}
		chosen := -1
		for i, m := range idx.Manifests {
			if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != MediaTypeDockerManifest {
				continue
			}
			if chosen < 0 {
				chosen = i
			}
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
				chosen = i
				break
			}
		}
		if chosen < 0 {
			return Artifact{}, fmt.Errorf("%s: %w: an index without image manifests", ref, ErrInvalidManifest)
		}
		d := desc
		a.Index = &d
		desc = idx.Manifests[chosen]
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != MediaTypeDockerManifest {
		return Artifact{}, fmt.Errorf("%s: %w: media type %q", ref, ErrInvalidManifest, desc.MediaType)
	}
	fa, err := FetchArtifact(ctx, target, desc)
	if err != nil {
		return Artifact{}, fmt.Errorf("%s: %w", ref, err)
	}
	fa.Index = a.Index
	return fa, nil
}

// FetchArtifact fetches the OCI or Docker image manifest that desc
// describes (bounded, digest verified) and tells what kind it is; a model
// manifest is validated as FetchManifest does.
func FetchArtifact(ctx context.Context, target Target, desc ocispec.Descriptor) (Artifact, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != MediaTypeDockerManifest {
		return Artifact{}, fmt.Errorf("%w: media type %q", ErrInvalidManifest, desc.MediaType)
	}
	b, err := fetchBounded(ctx, target, desc, MaxManifestBytes)
	if err != nil {
		return Artifact{}, fmt.Errorf("fetch manifest: %w", err)
	}
	m, err := parseAnyManifest(b)
	if err != nil {
		return Artifact{}, err
	}
	a := Artifact{Descriptor: desc, Manifest: m}
	switch {
	case m.ArtifactType == ArtifactTypeModel || m.Config.MediaType == MediaTypeModelConfig:
		a.Kind = KindModelArtifact
	case m.Config.MediaType == ocispec.MediaTypeImageConfig || m.Config.MediaType == MediaTypeDockerConfig:
		a.Kind = KindImage
	default:
		a.Kind = KindOther
	}
	if a.Kind == KindModelArtifact {
		if _, err := parseManifest(b); err != nil {
			return Artifact{}, err
		}
	}
	return a, nil
}

// IsImageConfig reports whether mediaType is an OCI or Docker image config.
func IsImageConfig(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageConfig || mediaType == MediaTypeDockerConfig
}

// parseAnyManifest decodes an OCI or Docker v2 image manifest (the same
// JSON fields) and checks what every reader relies on.
func parseAnyManifest(b []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if m.SchemaVersion != 2 {
		return m, fmt.Errorf("%w: schemaVersion %d", ErrInvalidManifest, m.SchemaVersion)
	}
	if len(m.Layers) > MaxLayers {
		return m, fmt.Errorf("%w: %d layers (max %d)", ErrTooLarge, len(m.Layers), MaxLayers)
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return m, fmt.Errorf("%w: layer digest %q: %v", ErrInvalidManifest, l.Digest, err)
		}
		if l.Size < 0 {
			return m, fmt.Errorf("%w: layer %s size %d", ErrInvalidManifest, l.Digest, l.Size)
		}
	}
	return m, nil
}
