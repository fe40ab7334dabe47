package manifest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// PullOptions configure Pull. The zero value downloads DefaultConcurrency
// files at a time without progress.
type PullOptions struct {
	// Concurrency is how many files are downloaded at once.
	Concurrency int
	// Progress, when set, receives download events.
	Progress ProgressFunc
}

// PullResult describes a pulled model.
type PullResult struct {
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	Resources  []Resource
}

// Pull resolves ref in target and writes the model's files under dir,
// creating dir if needed. Existing files at the same paths are replaced;
// other files in dir are left alone.
//
// Before anything is written, every layer path is checked: it must be a
// clean relative path (see ValidatePath), unique (case-insensitively), not
// both a file and a directory, and no existing parent under dir may be a
// symlink or a non-directory; otherwise Pull fails with ErrUnsafePath. Each
// blob is streamed to a temporary file next to its destination while its
// size and sha256 are checked, and renamed into place only when they match.
// All writes go through an os.Root, so even a directory swapped for a symlink
// during the pull cannot send a write outside dir.
func Pull(ctx context.Context, target Target, ref Ref, dir string, opts PullOptions) error {
	_, err := PullModel(ctx, target, ref, dir, opts)
	return err
}

// PullModel is Pull returning what was pulled.
func PullModel(ctx context.Context, target Target, ref Ref, dir string, opts PullOptions) (PullResult, error) {
	desc, m, err := Resolve(ctx, target, ref)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	res := PullResult{Descriptor: desc, Manifest: m}
	files, err := layerFiles(m)
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", ref, err)
	}
	for _, f := range files {
		res.Resources = append(res.Resources, Resource{Path: f.Path, Digest: f.Digest.Encoded(), Size: f.Size})
	}
	if err := checkDestination(dir, res.Resources); err != nil {
		return res, fmt.Errorf("pull %s: %w", ref, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("pull %s: %w", ref, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", ref, err)
	}
	defer root.Close()

	if opts.Progress != nil {
		for _, f := range files {
			opts.Progress(Event{Phase: PhasePlan, Path: f.Path, Total: f.Size})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrencyOr(opts.Concurrency))
	for _, f := range files {
		desc := ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size}
		g.Go(func() error {
			if err := pullFile(gctx, target, root, desc, f.Path, opts.Progress); err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("pull %s: %w", ref, err)
	}
	return res, nil
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

// pullFile downloads one blob into root at rel, atomically.
func pullFile(ctx context.Context, target Target, root *os.Root, desc ocispec.Descriptor, rel string, progress ProgressFunc) (err error) {
	ev := Event{Phase: PhaseDownload, Path: rel, Total: desc.Size}
	parent := path.Dir(rel)
	if parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	tmp := path.Join(parent, "."+path.Base(rel)+"."+randomSuffix()+".partial")
	if len(path.Base(tmp)) > MaxPathComponentBytes {
		tmp = path.Join(parent, "."+randomSuffix()+".partial")
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			root.Remove(tmp)
		}
	}()

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
	if err := copyVerified(f, r, desc); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		f = nil
		return err
	}
	f = nil
	if err := root.Rename(tmp, rel); err != nil {
		return err
	}
	d := ev
	d.Done = true
	progress.emit(d)
	return nil
}

// copyVerified copies r to w and checks that exactly desc.Size bytes with
// desc.Digest were read. r must be limited to desc.Size+1 bytes.
func copyVerified(w io.Writer, r io.Reader, desc ocispec.Descriptor) error {
	var h hash.Hash
	if desc.Digest.Algorithm().Available() {
		h = desc.Digest.Algorithm().Hash()
	} else {
		return fmt.Errorf("%w: unsupported digest algorithm %q", ErrInvalidManifest, desc.Digest.Algorithm())
	}
	n, err := io.CopyBuffer(io.MultiWriter(w, h), r, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != desc.Size {
		return fmt.Errorf("%w: got %d bytes, want %d", ErrDigestMismatch, n, desc.Size)
	}
	if got := digest.NewDigest(desc.Digest.Algorithm(), h); got != desc.Digest {
		return fmt.Errorf("%w: got %s, want %s", ErrDigestMismatch, got, desc.Digest)
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
