// Package remote scans model artifacts stored in OCI registries (oci://REF)
// and local OCI layouts (oci-layout://DIR[:TAG|@DIGEST]): it resolves the
// model manifest, fetches each file layer with its digest verified, and
// scans it through the same dispatcher as a file on disk, reporting it by
// the file path its layer annotates; the files inside tar layers (.tar,
// .tar+gzip, .tar+zstd) are scanned one by one under the paths the tar
// gives them.
package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
)

// IsRef reports whether target names an OCI reference rather than a path.
func IsRef(target string) bool {
	return len(target) > len("oci://") && target[:len("oci://")] == "oci://" ||
		len(target) > len("oci-layout://") && target[:len("oci-layout://")] == "oci-layout://"
}

// Result is what ScanArtifact read.
type Result struct {
	Targets []scan.Target
	// Notes say how the artifact and its layers were read.
	Notes []string
}

// Options configure ScanArtifact. The zero value reads registries as
// manifest.Open does and reports no progress.
type Options struct {
	Registry manifest.RegistryOptions
	// Progress, when set, is called as layer bytes arrive with the bytes
	// fetched so far and the total size of the manifest's layers.
	Progress func(done, total int64)
}

// Scan is ScanArtifact returning only the targets.
func Scan(ctx context.Context, sc *scan.Scanner, ref string, opts Options) ([]scan.Target, error) {
	res, err := ScanArtifact(ctx, sc, ref, opts)
	return res.Targets, err
}

// ScanArtifact scans what ref names, whatever kind of artifact it is:
//   - a ModelPack model: every file layer, by the path its layer annotates,
//     and the files inside tar layers under the paths the tar gives them;
//   - an OCI or Docker image (a KServe modelcar): its layers applied in
//     order, whiteouts honoured, then every resulting file by its path;
//   - any other artifact (oras's default types, a Helm chart, ...): file by
//     file, a layer with a tar media type as its files, any other as one
//     file named by its title annotation or digest.
//
// Notes say which layers were read as what. The only errors returned are a
// reference or manifest that cannot be read at all (a registry or network
// error, a malformed manifest) and hostile model layer paths; a layer that
// cannot be fetched or does not match its digest becomes a malformed target.
func ScanArtifact(ctx context.Context, sc *scan.Scanner, ref string, opts Options) (Result, error) {
	r, err := manifest.ParseRef(ref)
	if err != nil {
		return Result{}, err
	}
	target, err := manifest.Open(ctx, r, opts.Registry)
	if err != nil {
		return Result{}, err
	}
	a, err := manifest.ResolveArtifact(ctx, target, r)
	if err != nil {
		return Result{}, err
	}
	if opts.Progress != nil {
		pt := &progressTarget{Target: target, report: opts.Progress}
		for _, l := range a.Manifest.Layers {
			pt.total += max(l.Size, 0)
		}
		target = pt
	}
	var res Result
	if a.Index != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("%s is an index: scanned its manifest %s", ref, a.Descriptor.Digest))
	}
	var what string
	switch a.Kind {
	case manifest.KindImage:
		res, err = scanImage(ctx, sc, target, a, ref, res)
		what = "the image holds no regular file"
	case manifest.KindOther:
		res, err = scanOther(ctx, sc, target, a, ref, res)
		what = "the artifact has no layer"
	default:
		res.Targets, err = scanModel(ctx, sc, target, a.Manifest, ref)
		what = "the model manifest has no file layer"
	}
	if err == nil && len(res.Targets) == 0 {
		// An artifact that yields no file must not pass as clean.
		res.Targets = []scan.Target{scan.NothingScanned(ref, what)}
	}
	return res, err
}

// scanModel scans a ModelPack model's layers.
func scanModel(ctx context.Context, sc *scan.Scanner, target manifest.Target, m ocispec.Manifest, ref string) ([]scan.Target, error) {
	raw, tars, err := manifest.PlanLayers(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return scanLayers(ctx, sc, target, raw, tars, ref)
}

// scanLayers scans raw layers as files and tar layers as their files,
// DefaultConcurrency layers at a time.
func scanLayers(ctx context.Context, sc *scan.Scanner, target manifest.Target, raw []manifest.File, tars []manifest.TarLayer, ref string) ([]scan.Target, error) {
	out := make([][]scan.Target, len(raw)+len(tars))
	var wg sync.WaitGroup
	sem := make(chan struct{}, manifest.DefaultConcurrency)
	run := func(i int, fn func() []scan.Target) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			out[i] = fn()
		}()
	}
	for i, f := range raw {
		d := ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size}
		run(i, func() []scan.Target { return []scan.Target{scanLayer(ctx, sc, target, d, ref+"/"+f.Path)} })
	}
	for i, t := range tars {
		run(len(raw)+i, func() []scan.Target { return scanTarLayer(ctx, sc, target, t, ref) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var all []scan.Target
	for _, ts := range out {
		all = append(all, ts...)
	}
	return all, nil
}

// scanImage scans the filesystem of a container image.
func scanImage(ctx context.Context, sc *scan.Scanner, target manifest.Target, a manifest.Artifact, ref string, res Result) (Result, error) {
	dir, err := os.MkdirTemp("", "modelverify-image-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	fs, err := manifest.ReadImage(ctx, target, a.Manifest, dir, manifest.ImageOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s: read as a container image", ref))
		res.Targets = append(res.Targets, malformed(ref, a.Descriptor.Size, err))
		return res, nil
	}
	defer fs.Close()
	res.Notes = append(res.Notes, fmt.Sprintf("%s: read as a container image (%d layers applied in order)", ref, len(a.Manifest.Layers)))
	for _, n := range fs.Notes {
		res.Notes = append(res.Notes, ref+": "+n)
	}
	for _, p := range fs.Files() {
		f, err := fs.Open(p)
		if err != nil {
			res.Targets = append(res.Targets, malformed(ref+"/"+p, 0, err))
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			f.Close()
			res.Targets = append(res.Targets, malformed(ref+"/"+p, 0, err))
			continue
		}
		t := sc.ScanReaderAt(ctx, ref+"/"+p, f, n)
		t.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		f.Close()
		res.Targets = append(res.Targets, t)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// scanOther scans an artifact that is neither a model nor an image.
func scanOther(ctx context.Context, sc *scan.Scanner, target manifest.Target, a manifest.Artifact, ref string, res Result) (Result, error) {
	m := a.Manifest
	res.Notes = append(res.Notes, fmt.Sprintf("%s: not a ModelPack model or an image (artifactType %q, config %q): scanned file by file", ref, m.ArtifactType, m.Config.MediaType))
	var raw []manifest.File
	for i, l := range m.Layers {
		if l.MediaType == ocispec.MediaTypeEmptyJSON {
			// What oras packs in place of layers for an artifact without
			// files: no file of the artifact.
			res.Notes = append(res.Notes, fmt.Sprintf("%s: layer %d is the empty descriptor, not a file", ref, i))
			continue
		}
		if l.Digest.Algorithm() != digest.SHA256 {
			res.Targets = append(res.Targets, malformed(fmt.Sprintf("%s/layer-%d", ref, i), l.Size, fmt.Errorf("layer digest %s is not sha256", l.Digest)))
			continue
		}
		// oras's default file type says ".tar" but holds the raw file, so a
		// layer of another artifact is one blob that the dispatcher sniffs:
		// tar, gzip and zstd contents are unpacked and scanned by member.
		p := safeTitle(l)
		if p == "" {
			p = l.Digest.String()
		}
		raw = append(raw, manifest.File{Path: p, Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
		res.Notes = append(res.Notes, fmt.Sprintf("%s: layer %d (%s, %s) read as one file, %s (archives and compressed streams in it are scanned by member)", ref, i, l.Digest, l.MediaType, p))
	}
	ts, err := scanLayers(ctx, sc, target, raw, nil, ref)
	res.Targets = append(res.Targets, ts...)
	return res, err
}

// safeTitle is a layer's title (or model file path) annotation when it is a
// safe relative path, else "".
func safeTitle(l ocispec.Descriptor) string {
	for _, k := range []string{manifest.AnnotationFilepath, manifest.AnnotationTitle} {
		if p := l.Annotations[k]; p != "" && manifest.ValidatePath(p) == nil {
			return p
		}
	}
	return ""
}

// scanTarLayer scans every file of a tar layer, each reported as
// "REF/PATH" with the file's own sha256 (the digest a signature binds). A
// layer that cannot be read completely, or whose blob does not match its
// digest, adds a malformed target named after the layer; the files read
// before that are still reported (a dangerous file is dangerous whatever
// follows it).
func scanTarLayer(ctx context.Context, sc *scan.Scanner, target manifest.Target, t manifest.TarLayer, ref string) []scan.Target {
	var out []scan.Target
	err := manifest.ReadTarBlob(ctx, target, t, manifest.TarLimits{}, func(rel string, size int64, r io.Reader) error {
		tmp, err := os.CreateTemp("", "modelverify-layer-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tmp, h), r)
		if err != nil {
			return err
		}
		tg := sc.ScanReaderAt(ctx, ref+"/"+rel, tmp, n)
		tg.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		out = append(out, tg)
		return nil
	})
	if err != nil {
		label := t.Path
		if label == "" {
			label = t.Desc.Digest.String()
		}
		out = append(out, malformed(ref+"/"+label, t.Desc.Size, err))
	}
	return out
}

func malformed(display string, size int64, err error) scan.Target {
	return scan.Target{
		Path: display, Size: size, Format: "unknown", Verdict: scan.VerdictMalformed, Error: err.Error(),
		Findings: []scan.Finding{{RuleID: scan.RuleMalformed, Offset: -1, Message: err.Error()}},
	}
}

// scanLayer fetches one layer into a temporary file, verifying its size and
// digest while it streams, then scans it.
func scanLayer(ctx context.Context, sc *scan.Scanner, target manifest.Target, desc ocispec.Descriptor, display string) scan.Target {
	bad := func(err error) scan.Target { return malformed(display, desc.Size, err) }
	rc, err := target.Fetch(ctx, desc)
	if err != nil {
		return bad(fmt.Errorf("fetch %s: %w", desc.Digest, err))
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "modelverify-layer-*")
	if err != nil {
		return bad(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := manifest.CopyVerified(tmp, io.LimitReader(rc, desc.Size+1), desc); err != nil {
		return bad(fmt.Errorf("fetch %s: %w", desc.Digest, err))
	}
	t := sc.ScanReaderAt(ctx, display, tmp, desc.Size)
	t.Digest = desc.Digest.String()
	return t
}

// progressTarget reports the bytes its fetches deliver.
type progressTarget struct {
	manifest.Target
	report func(done, total int64)
	total  int64
	mu     sync.Mutex
	done   int64
}

func (t *progressTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := t.Target.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	return &progressReader{ReadCloser: rc, t: t}, nil
}

func (t *progressTarget) add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += int64(n)
	t.report(min(t.done, t.total), t.total)
}

type progressReader struct {
	io.ReadCloser
	t *progressTarget
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.t.add(n)
	}
	return n, err
}
