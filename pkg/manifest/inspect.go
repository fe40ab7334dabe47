package manifest

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Info describes a model artifact, as `modelverify inspect` shows it.
type Info struct {
	Reference    string            `json:"reference"`
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Config       *ModelConfig      `json:"config,omitempty"`
	Files        []File            `json:"files"`
}

// File is one layer of a model.
type File struct {
	Path      string        `json:"path"`
	Size      int64         `json:"size"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
}

// Inspect resolves ref and describes the model: manifest digest, artifact
// type, config and files (sorted by path). It fetches the manifest and the
// config, never a layer. A manifest whose paths are unsafe is refused as Pull
// would refuse it.
func Inspect(ctx context.Context, target Target, ref Ref) (Info, error) {
	desc, m, err := Resolve(ctx, target, ref)
	if err != nil {
		return Info{}, fmt.Errorf("inspect: %w", err)
	}
	plan, err := planLayers(m)
	if err == nil {
		err = checkPathSet(plan.paths())
	}
	if err != nil {
		return Info{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	// A tar layer is listed as itself: its files are known only from its
	// content, which inspect does not download.
	files := plan.raw
	for _, t := range plan.tars {
		files = append(files, File{Path: layerLabel(t), Size: t.Desc.Size, Digest: t.Desc.Digest, MediaType: t.Desc.MediaType})
	}
	info := Info{
		Reference:    ref.WithDigest(desc.Digest).String(),
		Digest:       desc.Digest,
		MediaType:    desc.MediaType,
		ArtifactType: m.ArtifactType,
		Size:         desc.Size,
		Annotations:  m.Annotations,
		Files:        files,
	}
	if m.Config.MediaType == MediaTypeModelConfig {
		cfg, err := FetchConfig(ctx, target, m)
		if err != nil {
			return Info{}, fmt.Errorf("inspect %s: %w", ref, err)
		}
		info.Config = &cfg
	}
	return info, nil
}
