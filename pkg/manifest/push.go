package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
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
	// LayerFormat is the form of every layer: FormatRaw (the zero value)
	// stores each file as its own bytes; FormatTar, FormatTarGzip and
	// FormatTarZstd store each file in a tar holding it at its relative
	// path (mode 0644, owner 0, time zero, so a re-push gives the same
	// digests), compressed as named.
	LayerFormat LayerFormat
}

// PushResult describes a pushed model.
type PushResult struct {
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	// Uploaded and Skipped count layer blobs sent and blobs that the target
	// already had.
	Uploaded, Skipped int
	// Resources are the files pushed, sorted by path.
	Resources []Resource
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

	layers, diffIDs, err := layerDescriptors(ctx, dir, resources, opts.LayerFormat, opts.Concurrency)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", dir, err)
	}
	m, cfgBytes, err := buildManifest(dir, resources, layers, diffIDs, opts.Annotations)
	if err != nil {
		return PushResult{}, fmt.Errorf("push %s: %w", dir, err)
	}
	res := PushResult{Manifest: m, Resources: resources}

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
		desc := m.Layers[i]
		if seen[desc.Digest.String()] {
			continue
		}
		seen[desc.Digest.String()] = true
		g.Go(func() error {
			up, err := pushFile(gctx, target, desc, filepath.Join(dir, filepath.FromSlash(r.Path)), r.Path, opts.LayerFormat, opts.Progress)
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

// layerDescriptors returns the layer descriptor and diff ID of each
// resource in form f. A raw layer is the file, so both are the file's
// digest; a tar layer is generated (deterministically) and hashed without
// being stored, its diff ID being the digest of the uncompressed tar.
func layerDescriptors(ctx context.Context, dir string, resources []Resource, f LayerFormat, concurrency int) ([]ocispec.Descriptor, []digest.Digest, error) {
	layers := make([]ocispec.Descriptor, len(resources))
	diffIDs := make([]digest.Digest, len(resources))
	if f == "" {
		f = FormatRaw
	}
	if _, err := ParseLayerFormat(string(f)); err != nil {
		return nil, nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrencyOr(concurrency))
	for i, r := range resources {
		layers[i] = ocispec.Descriptor{
			MediaType:   KindOf(r.Path).LayerMediaType(f),
			Digest:      r.OCIDigest(),
			Size:        r.Size,
			Annotations: map[string]string{AnnotationFilepath: r.Path, AnnotationTitle: r.Path},
		}
		diffIDs[i] = r.OCIDigest()
		if f == FormatRaw {
			continue
		}
		g.Go(func() error {
			fh, err := os.Open(filepath.Join(dir, filepath.FromSlash(r.Path)))
			if err != nil {
				return err
			}
			defer fh.Close()
			blob, tarSum := digest.SHA256.Digester(), digest.SHA256.Digester()
			cw := &countWriter{w: blob.Hash()}
			if err := writeTarLayerTee(cw, tarSum.Hash(), f, r.Path, r.Size, &ctxReader{ctx: gctx, r: fh}); err != nil {
				return fmt.Errorf("%s: %w", r.Path, err)
			}
			layers[i].Digest, layers[i].Size = blob.Digest(), cw.n
			diffIDs[i] = tarSum.Digest()
			return nil
		})
	}
	return layers, diffIDs, g.Wait()
}

// writeTarLayerTee writes the layer blob to w and its uncompressed tar to
// tarW.
func writeTarLayerTee(w, tarW io.Writer, f LayerFormat, rel string, size int64, r io.Reader) error {
	if f == FormatTar {
		return writeTarLayer(io.MultiWriter(w, tarW), f, rel, size, r)
	}
	// The tar is compressed after it is hashed: write the tar once into
	// tarW and into the compressor that feeds w.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := compressTo(w, f, pr)
		pr.CloseWithError(err)
		done <- err
	}()
	err := writeTarLayer(io.MultiWriter(pw, tarW), FormatTar, rel, size, r)
	pw.CloseWithError(err)
	if cerr := <-done; err == nil {
		err = cerr
	}
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// buildManifest makes the manifest and config for resources (sorted by
// path) stored as layers.
func buildManifest(dir string, resources []Resource, layers []ocispec.Descriptor, diffIDs []digest.Digest, annotations map[string]string) (ocispec.Manifest, []byte, error) {
	cfg := buildConfig(dir, resources, diffIDs)
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
	m.Layers = append(m.Layers, layers...)
	return m, cfgBytes, nil
}

// pushFile uploads one file as the blob desc unless the target has it. It
// reports whether it uploaded.
func pushFile(ctx context.Context, target Target, desc ocispec.Descriptor, name, rel string, f LayerFormat, progress ProgressFunc) (bool, error) {
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
	fh, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	s := ev
	s.Start = true
	progress.emit(s)
	var r io.Reader = &ctxReader{ctx: ctx, r: io.NewSectionReader(fh, 0, desc.Size)}
	if f != "" && f != FormatRaw {
		// Generate the tar layer again while it uploads; the registry's
		// digest check catches a file that changed since it was hashed.
		fi, err := fh.Stat()
		if err != nil {
			return false, err
		}
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(writeTarLayerTee(pw, io.Discard, f, rel, fi.Size(), &ctxReader{ctx: ctx, r: fh}))
		}()
		defer pr.Close()
		r = pr
	}
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
