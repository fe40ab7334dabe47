package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
)

// PushOptions configure Push. The zero value pushes every file except
// DefaultIgnore, DefaultConcurrency files at a time, without progress.
type PushOptions struct {
	// Ignore lists paths relative to the model directory to leave out. Nil
	// means DefaultIgnore; an empty non-nil slice ignores nothing.
	Ignore []string
	// Concurrency is how many files are hashed or uploaded at once.
	Concurrency int
	// Annotations are added to the manifest.
	Annotations map[string]string
	// Progress, when set, receives hashing and upload events.
	Progress ProgressFunc
}

// PushResult describes a pushed model.
type PushResult struct {
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	// Uploaded and Skipped count layer blobs sent and blobs that the target
	// already had.
	Uploaded, Skipped int
}

// Push stores the model directory dir in target as a ModelPack artifact and
// tags it with ref's tag (DefaultTag when ref has neither tag nor digest). A
// digest in ref must equal the pushed manifest's digest.
//
// Files are hashed first (in parallel, streaming), then the blobs the target
// does not have are uploaded in parallel, streaming from disk: nothing is
// held in memory but the manifest and config. A file that changes between
// hashing and upload makes the upload fail its digest check.
func Push(ctx context.Context, dir string, target Target, ref Ref, opts PushOptions) (ocispec.Descriptor, error) {
	res, err := PushModel(ctx, dir, target, ref, opts)
	return res.Descriptor, err
}

// PushModel is Push returning what was pushed and how many blobs were sent.
func PushModel(ctx context.Context, dir string, target Target, ref Ref, opts PushOptions) (PushResult, error) {
	ignore := opts.Ignore
	if ignore == nil {
		ignore = DefaultIgnore
	}
	resources, err := folderResources(ctx, dir, ignore, opts.Concurrency, func(p string, n int64) {
		opts.Progress.emit(Event{Phase: PhaseHash, Path: p, N: n})
	})
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", dir, err)
	}
	if len(resources) == 0 {
		return PushResult{}, fmt.Errorf("push %s: %w", dir, ErrEmpty)
	}

	m, cfgBytes, err := buildManifest(dir, resources, opts.Annotations)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", dir, err)
	}
	res := PushResult{Manifest: m}

	if opts.Progress != nil {
		planned := map[string]bool{}
		for _, r := range resources {
			if !planned[r.Digest] {
				planned[r.Digest] = true
				opts.Progress(Event{Phase: PhasePlan, Path: r.Path, Total: r.Size})
			}
		}
	}

	// Upload each distinct blob once.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrencyOr(opts.Concurrency))
	seen := map[string]bool{}
	var uploaded, skipped atomic.Int64
	for i, r := range resources {
		if seen[r.Digest] {
			continue
		}
		seen[r.Digest] = true
		desc := m.Layers[i]
		g.Go(func() error {
			up, err := pushFile(gctx, target, desc, filepath.Join(dir, filepath.FromSlash(r.Path)), r.Path, opts.Progress)
			if err != nil {
				return fmt.Errorf("upload %s: %w", r.Path, err)
			}
			if up {
				uploaded.Add(1)
			} else {
				skipped.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("push %s: %w", ref, err)
	}
	res.Uploaded, res.Skipped = int(uploaded.Load()), int(skipped.Load())

	if err := pushBytes(ctx, target, m.Config, cfgBytes, ""); err != nil {
		return res, fmt.Errorf("push %s: config: %w", ref, err)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return res, err
	}
	mdesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	mdesc.ArtifactType = m.ArtifactType
	mdesc.Annotations = m.Annotations
	if ref.Digest != "" && ref.Digest != mdesc.Digest {
		return res, fmt.Errorf("push %s: %w: the manifest is %s", ref, ErrDigestMismatch, mdesc.Digest)
	}
	if err := pushBytes(ctx, target, mdesc, mb, ref.TagOrDefault()); err != nil {
		return res, fmt.Errorf("push %s: manifest: %w", ref, err)
	}
	res.Descriptor = mdesc
	return res, nil
}

// buildManifest makes the manifest and config for resources (sorted by path).
func buildManifest(dir string, resources []Resource, annotations map[string]string) (ocispec.Manifest, []byte, error) {
	cfg := buildConfig(dir, resources)
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Manifest{}, nil, err
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeModel,
		Config:       content.NewDescriptorFromBytes(MediaTypeModelConfig, cfgBytes),
		Layers:       make([]ocispec.Descriptor, 0, len(resources)),
	}
	if len(annotations) > 0 {
		m.Annotations = annotations
	}
	for _, r := range resources {
		m.Layers = append(m.Layers, ocispec.Descriptor{
			MediaType: KindOf(r.Path).MediaType(),
			Digest:    r.OCIDigest(),
			Size:      r.Size,
			Annotations: map[string]string{
				AnnotationFilepath: r.Path,
				AnnotationTitle:    r.Path,
			},
		})
	}
	return m, cfgBytes, nil
}

// pushFile uploads one file as the blob desc unless the target has it. It
// reports whether it uploaded.
func pushFile(ctx context.Context, target Target, desc ocispec.Descriptor, name, rel string, progress ProgressFunc) (bool, error) {
	ev := Event{Phase: PhaseUpload, Path: rel, Total: desc.Size}
	exists, err := target.Exists(ctx, desc)
	if err != nil {
		return false, err
	}
	if exists {
		e := ev
		e.Done, e.Skipped = true, true
		progress.emit(e)
		return false, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := ev
	s.Start = true
	progress.emit(s)
	var r io.Reader = io.NewSectionReader(f, 0, desc.Size)
	r = &ctxReader{ctx: ctx, r: r}
	if progress != nil {
		r = &countReader{r: r, fn: func(n int64) {
			e := ev
			e.N = n
			progress(e)
		}}
	}
	if err := target.Push(ctx, desc, r); err != nil {
		return false, err
	}
	d := ev
	d.Done = true
	progress.emit(d)
	return true, nil
}

// pushBytes pushes a small blob or manifest unless the target has it, and
// tags it when tag is not empty.
func pushBytes(ctx context.Context, target Target, desc ocispec.Descriptor, b []byte, tag string) error {
	if tag != "" {
		if rp, ok := target.(registry.ReferencePusher); ok {
			return rp.PushReference(ctx, desc, newBytesReader(b), tag)
		}
	}
	exists, err := target.Exists(ctx, desc)
	if err != nil {
		return err
	}
	if !exists {
		if err := target.Push(ctx, desc, newBytesReader(b)); err != nil {
			return err
		}
	}
	if tag != "" {
		return target.Tag(ctx, desc, tag)
	}
	return nil
}
