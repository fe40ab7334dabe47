package manifest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// PullOptions configure Pull. The zero value downloads DefaultConcurrency
// layers at a time without progress, with the default tar limits.
type PullOptions struct {
	// Concurrency is how many layers are downloaded at once.
	Concurrency int
	// Progress, when set, receives download events.
	Progress ProgressFunc
	// TarLimits bound each tar layer.
	TarLimits TarLimits
	// ImagePath, for a container image (a modelcar), keeps only the files
	// under this folder of the image ("/models"), named relative to it.
	// Empty extracts the whole filesystem.
	ImagePath string
	// Extra are files written with the pulled ones, by relative path (for
	// example the verified signature as model.sig): they are staged and
	// path-checked with them, and are not part of PullResult.Resources.
	Extra map[string][]byte
}

// PullResult describes a pulled model.
type PullResult struct {
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	// Resources are the files written, sorted by path.
	Resources []Resource
}

// Pull resolves ref in target and writes the model's files under dir,
// creating dir if needed. Existing files at the same paths are replaced;
// other files in dir are left alone.
//
// Raw layers become one file each; tar layers (.tar, .tar+gzip, .tar+zstd)
// are unpacked, refusing links, devices and unsafe paths, within
// PullOptions.TarLimits (see ReadTarLayer). Every file is first written into
// a staging folder inside dir while the blobs' sizes and digests are
// checked; only when every layer verified, and the complete file set is
// known to be safe (clean relative paths, unique case-insensitively, none
// both a file and a directory, no existing parent under dir a symlink or a
// non-directory), are the files renamed into place. A failed pull removes
// the staging folder (and dir, when Pull created it and it is empty), so it
// leaves nothing behind. All writes go through an os.Root, so even a
// directory swapped for a symlink during the pull cannot send a write
// outside dir.
func Pull(ctx context.Context, target Target, ref Ref, dir string, opts PullOptions) error {
	_, err := PullModel(ctx, target, ref, dir, opts)
	return err
}

// staged is a file written into the staging folder.
type staged struct {
	res  Resource
	name string // inside the staging folder
}

// PullModel is Pull returning what was pulled.
func PullModel(ctx context.Context, target Target, ref Ref, dir string, opts PullOptions) (res PullResult, err error) {
	a, err := ResolveArtifact(ctx, target, ref)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	desc, m := a.Descriptor, a.Manifest
	res = PullResult{Descriptor: desc, Manifest: m}
	defer func() {
		if err != nil {
			err = fmt.Errorf("pull %s: %w", ref, err)
		}
	}()
	var plan layerPlan
	switch a.Kind {
	case KindImage:
	case KindModelArtifact:
		if _, err := FetchManifest(ctx, target, desc); err != nil {
			return res, err
		}
		if plan, err = planLayers(m); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("%w: artifactType %q, config %q", ErrNotModel, m.ArtifactType, m.Config.MediaType)
	}
	// Refuse what the manifest alone shows to be unsafe before creating
	// anything.
	if err := checkPathSet(plan.paths()); err != nil {
		return res, err
	}
	var known []Resource
	for _, f := range plan.raw {
		known = append(known, Resource{Path: f.Path, Digest: f.Digest.Encoded(), Size: f.Size})
	}
	if err := checkDestination(dir, known); err != nil {
		return res, err
	}
	created := false
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	stage := ".modelverify-pull-" + randomSuffix()
	if err := root.Mkdir(stage, 0o700); err != nil {
		return res, err
	}
	defer func() {
		root.RemoveAll(stage)
		if err != nil && created {
			os.Remove(dir)
		}
	}()

	if opts.Progress != nil {
		for _, f := range plan.raw {
			opts.Progress(Event{Phase: PhasePlan, Path: f.Path, Total: f.Size})
		}
		for _, t := range plan.tars {
			opts.Progress(Event{Phase: PhasePlan, Path: layerLabel(t), Total: t.Desc.Size})
		}
	}
	var (
		mu    sync.Mutex
		files []staged
		seq   atomic.Int64
	)
	add := func(s staged) {
		mu.Lock()
		files = append(files, s)
		mu.Unlock()
	}
	newName := func() string { return path.Join(stage, strconv.FormatInt(seq.Add(1), 10)) }
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrencyOr(opts.Concurrency))
	for _, f := range plan.raw {
		d := ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size}
		g.Go(func() error {
			name := newName()
			if err := pullFile(gctx, target, root, d, name, f.Path, opts.Progress); err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			add(staged{res: Resource{Path: f.Path, Digest: f.Digest.Encoded(), Size: f.Size}, name: name})
			return nil
		})
	}
	if a.Kind == KindImage {
		g.Go(func() error {
			fs, err := applyImage(gctx, target, m, root, newName, ImageOptions{Path: opts.ImagePath, TarLimits: opts.TarLimits})
			if err != nil {
				return err
			}
			for _, p := range fs.Files() {
				fi, err := root.Stat(fs.files[p])
				if err != nil {
					return err
				}
				f, err := fs.Open(p)
				if err != nil {
					return err
				}
				sum, _, err := hashReader(ctx, f)
				f.Close()
				if err != nil {
					return err
				}
				add(staged{res: Resource{Path: p, Digest: sum, Size: fi.Size()}, name: fs.files[p]})
			}
			return nil
		})
	}
	for _, t := range plan.tars {
		g.Go(func() error {
			got, err := pullTar(gctx, target, root, t, newName, opts)
			if err != nil {
				return err
			}
			for _, s := range got {
				add(s)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	slices.SortFunc(files, func(a, b staged) int { return strings.Compare(a.res.Path, b.res.Path) })
	all := make([]Resource, len(files))
	paths := make([]string, len(files))
	for i, s := range files {
		all[i], paths[i] = s.res, s.res.Path
	}
	checked := slices.Clone(all)
	for _, p := range slices.Sorted(maps.Keys(opts.Extra)) {
		if err := ValidatePath(p); err != nil {
			return res, err
		}
		name := newName()
		sum, err := writeStaged(root, name, bytes.NewReader(opts.Extra[p]), int64(len(opts.Extra[p])))
		if err != nil {
			return res, err
		}
		r := Resource{Path: p, Digest: sum, Size: int64(len(opts.Extra[p]))}
		files = append(files, staged{res: r, name: name})
		checked = append(checked, r)
		paths = append(paths, p)
	}
	if err := checkPathSet(paths); err != nil {
		return res, err
	}
	if err := checkDestination(dir, checked); err != nil {
		return res, err
	}
	for _, s := range files {
		if parent := path.Dir(s.res.Path); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return res, err
			}
		}
		if err := root.Rename(s.name, s.res.Path); err != nil {
			return res, err
		}
	}
	res.Resources = all
	return res, nil
}

// layerLabel names a tar layer in progress events and errors.
func layerLabel(t TarLayer) string {
	if t.Path != "" {
		return t.Path
	}
	return t.Desc.Digest.String()
}

// pullTar unpacks one tar layer into staging files named by newName. The
// files count only once the whole blob verified.
func pullTar(ctx context.Context, target Target, root *os.Root, t TarLayer, newName func() string, opts PullOptions) ([]staged, error) {
	label := layerLabel(t)
	ev := Event{Phase: PhaseDownload, Path: label, Total: t.Desc.Size}
	s := ev
	s.Start = true
	opts.Progress.emit(s)
	rc, err := target.Fetch(ctx, t.Desc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if opts.Progress != nil {
		r = &countReader{r: r, fn: func(n int64) {
			e := ev
			e.N = n
			opts.Progress(e)
		}}
	}
	var out []staged
	err = readTarFrom(ctx, r, t, opts.TarLimits, func(rel string, size int64, fr io.Reader) error {
		name := newName()
		sum, err := writeStaged(root, name, fr, size)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		out = append(out, staged{res: Resource{Path: rel, Digest: sum, Size: size}, name: name})
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := ev
	d.Done = true
	opts.Progress.emit(d)
	return out, nil
}

// writeStaged writes exactly size bytes of r to the new file name in root,
// synced, and returns their sha256.
func writeStaged(root *os.Root, name string, r io.Reader, size int64) (string, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), r, make([]byte, 1<<20))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("%w: tar entry has %d bytes, want %d", ErrInvalidManifest, n, size)
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

// checkDestination refuses to pull when an existing entry under dir would
// redirect or block a write: a symlinked or non-directory parent, or a
// directory where a file goes.
func checkDestination(dir string, resources []Resource) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	checked := map[string]bool{}
	for _, r := range resources {
		parts := strings.Split(r.Path, "/")
		for i := 1; i <= len(parts); i++ {
			rel := strings.Join(parts[:i], "/")
			if checked[rel] {
				continue
			}
			checked[rel] = true
			fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return err
			}
			last := i == len(parts)
			switch {
			case fi.Mode()&fs.ModeSymlink != 0 && !last:
				return fmt.Errorf("%w: %s: parent %s is a symlink", ErrUnsafePath, r.Path, rel)
			case fi.Mode()&fs.ModeSymlink != 0:
				return fmt.Errorf("%w: %s exists as a symlink", ErrUnsafePath, r.Path)
			case !last && !fi.IsDir():
				return fmt.Errorf("%w: %s: parent %s is not a directory", ErrUnsafePath, r.Path, rel)
			case last && !fi.Mode().IsRegular():
				return fmt.Errorf("%w: %s exists and is not a regular file", ErrUnsafePath, r.Path)
			}
		}
	}
	return nil
}

// pullFile downloads one raw blob into root at the staging name tmp,
// checking its size and digest; rel names it in progress events.
func pullFile(ctx context.Context, target Target, root *os.Root, desc ocispec.Descriptor, tmp, rel string, progress ProgressFunc) (err error) {
	ev := Event{Phase: PhaseDownload, Path: rel, Total: desc.Size}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	s := ev
	s.Start = true
	progress.emit(s)
	rc, err := target.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = &ctxReader{ctx: ctx, r: io.LimitReader(rc, desc.Size+1)}
	if progress != nil {
		r = &countReader{r: r, fn: func(n int64) {
			e := ev
			e.N = n
			progress(e)
		}}
	}
	if _, err := CopyVerified(f, r, desc); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d := ev
	d.Done = true
	progress.emit(d)
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
