package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Resource is one file of a model as the OMS signature format lists it.
type Resource struct {
	// Path is relative to the model root, slash-separated, clean, and never
	// leaves the root.
	Path string `json:"path"`
	// Digest is the lowercase hex sha256 of the file's content.
	Digest string `json:"digest"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
}

// OCIDigest returns the resource digest as an OCI digest ("sha256:...").
func (r Resource) OCIDigest() digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, r.Digest)
}

// ValidatePath checks that p is safe to create under a model root: relative,
// slash-separated, clean (no "", ".", ".." components, no doubled or
// trailing slash), valid UTF-8 without control characters (which could also
// rewrite a terminal showing the path) or backslash, and within the
// length limits. It does not look at the file system.
func ValidatePath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrUnsafePath, p, why) }
	switch {
	case p == "":
		return bad("empty path")
	case len(p) > MaxPathBytes:
		return bad("path too long")
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("contains a control character")
	case strings.ContainsRune(p, '\\'):
		return bad("contains a backslash")
	case strings.HasPrefix(p, "/"):
		return bad("absolute path")
	case len(p) >= 2 && p[1] == ':' && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z'):
		return bad("drive letter")
	}
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "":
			return bad("empty component")
		case c == "." || c == "..":
			return bad("dot component")
		case len(c) > MaxPathComponentBytes:
			return bad("component too long")
		}
	}
	if path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)) {
		return bad("not a clean local path")
	}
	return nil
}

// checkPathSet refuses duplicate paths (compared case-insensitively, since a
// pull onto a case-insensitive file system would merge them) and a path that
// is both a file and a parent of another file. paths must be valid.
func checkPathSet(paths []string) error {
	seen := make(map[string]string, len(paths))
	for _, p := range paths {
		k := strings.ToLower(p)
		if q, ok := seen[k]; ok {
			return fmt.Errorf("%w: duplicate path %q (and %q)", ErrUnsafePath, p, q)
		}
		seen[k] = p
	}
	for _, p := range paths {
		k := strings.ToLower(p)
		for i := strings.IndexByte(k, '/'); i >= 0; i = nextSlash(k, i) {
			if q, ok := seen[k[:i]]; ok {
				return fmt.Errorf("%w: %q is a file and the parent of %q", ErrUnsafePath, q, p)
			}
		}
	}
	return nil
}

func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// layerPath returns the file path a layer declares: org.cncf.model.filepath,
// or the title annotation when the former is absent.
func layerPath(l ocispec.Descriptor) (string, error) {
	p, ok := l.Annotations[AnnotationFilepath]
	if !ok {
		p, ok = l.Annotations[AnnotationTitle]
	}
	if !ok {
		return "", fmt.Errorf("%w: layer %s has no %s annotation", ErrInvalidManifest, l.Digest, AnnotationFilepath)
	}
	if t, ok := l.Annotations[AnnotationTitle]; ok && t != p && l.Annotations[AnnotationFilepath] != "" {
		// A tool that writes by title must not be sent elsewhere than one
		// that writes by filepath.
		if err := ValidatePath(t); err != nil {
			return "", fmt.Errorf("layer %s title: %w", l.Digest, err)
		}
	}
	if err := ValidatePath(p); err != nil {
		return "", fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return p, nil
}

// LayerResources returns the resources of a model manifest's layers, sorted by
// path, without fetching any blob: each layer is a raw file, so its digest is
// the file's sha256. It refuses tar layers (their files are known only from
// their content: use [Resources]), non-sha256 digests, negative sizes, unsafe,
// duplicate and conflicting paths.
func LayerResources(m ocispec.Manifest) ([]Resource, error) {
	files, err := layerFiles(m)
	if err != nil {
		return nil, err
	}
	out := make([]Resource, len(files))
	for i, f := range files {
		out[i] = Resource{Path: f.Path, Digest: f.Digest.Encoded(), Size: f.Size}
	}
	return out, nil
}

// layerFiles validates the layers of m as LayerResources does and returns
// them sorted by path.
func layerFiles(m ocispec.Manifest) ([]File, error) {
	p, err := planLayers(m)
	if err != nil {
		return nil, err
	}
	if len(p.tars) > 0 {
		t := p.tars[0].Desc
		return nil, fmt.Errorf("%w: layer %s has media type %q: its files are known only from its content", ErrUnsupportedLayer, t.Digest, t.MediaType)
	}
	if err := checkPathSet(p.paths()); err != nil {
		return nil, err
	}
	return p.raw, nil
}

// TarLayer is a layer whose blob is a (compressed) tar of files.
type TarLayer struct {
	Desc   ocispec.Descriptor
	Format LayerFormat
	// Path is the layer's path annotation, if any; it only labels the
	// layer: the files are named by the tar.
	Path string
}

// layerPlan is what a model manifest's layers hold: raw files, sorted by
// path, and tar layers, in manifest order.
type layerPlan struct {
	raw  []File
	tars []TarLayer
}

func (p layerPlan) paths() []string {
	out := make([]string, len(p.raw))
	for i, f := range p.raw {
		out[i] = f.Path
	}
	return out
}

// planLayers validates every layer of m: a ModelPack media type in one of
// the four forms, a sha256 digest, a size that is not negative, and a safe
// path annotation (required on raw layers). Paths of raw layers are not yet
// checked against each other.
func planLayers(m ocispec.Manifest) (layerPlan, error) {
	var p layerPlan
	if len(m.Layers) > MaxLayers {
		return p, fmt.Errorf("%w: %d layers (max %d)", ErrTooLarge, len(m.Layers), MaxLayers)
	}
	for _, l := range m.Layers {
		form, ok := ModelLayerFormat(l.MediaType)
		if !ok {
			return p, fmt.Errorf("%w: layer %s has media type %q", ErrUnsupportedLayer, l.Digest, l.MediaType)
		}
		if err := l.Digest.Validate(); err != nil || l.Digest.Algorithm() != digest.SHA256 {
			return p, fmt.Errorf("%w: layer digest %q is not a valid sha256 digest", ErrInvalidManifest, l.Digest)
		}
		if l.Size < 0 {
			return p, fmt.Errorf("%w: layer %s has negative size", ErrInvalidManifest, l.Digest)
		}
		if form != FormatRaw {
			t := TarLayer{Desc: l, Format: form}
			if _, ok := l.Annotations[AnnotationFilepath]; ok || l.Annotations[AnnotationTitle] != "" {
				lp, err := layerPath(l)
				if err != nil {
					return p, err
				}
				t.Path = lp
			}
			p.tars = append(p.tars, t)
			continue
		}
		lp, err := layerPath(l)
		if err != nil {
			return p, err
		}
		p.raw = append(p.raw, File{Path: lp, Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
	}
	slices.SortFunc(p.raw, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return p, nil
}

// Resources returns the OMS resources of the model manifest m in target:
// the files that Pull writes, sorted by path. Raw layers are taken from the
// manifest; tar layers are fetched and read (each file hashed as it
// streams, the blob's digest verified), so this reads every tar layer once.
// The file set is checked as Pull checks it (unsafe, duplicate or
// conflicting paths fail with ErrUnsafePath).
//
// For a container image (an image config), the files are those of its
// filesystem after its layers were applied (see ReadImage), staged in a
// temporary folder while they are hashed: what Pull writes without an
// ImagePath.
func Resources(ctx context.Context, target Target, m ocispec.Manifest, lim TarLimits) ([]Resource, error) {
	if IsImageConfig(m.Config.MediaType) {
		return imageResources(ctx, target, m, lim)
	}
	p, err := planLayers(m)
	if err != nil {
		return nil, err
	}
	out := make([]Resource, 0, len(p.raw))
	for _, f := range p.raw {
		out = append(out, Resource{Path: f.Path, Digest: f.Digest.Encoded(), Size: f.Size})
	}
	for _, t := range p.tars {
		err := readTarBlob(ctx, target, t, lim, func(rel string, size int64, r io.Reader) error {
			h := sha256.New()
			n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
			if err != nil {
				return err
			}
			out = append(out, Resource{Path: rel, Digest: hex.EncodeToString(h.Sum(nil)), Size: n})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	paths := make([]string, len(out))
	for i, r := range out {
		paths[i] = r.Path
	}
	if err := checkPathSet(paths); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// PlanLayers validates the layers of a model manifest and splits them into
// raw files (sorted by path; their paths are not yet checked against each
// other) and tar layers (in manifest order), whose files are known only by
// reading them with ReadTarBlob.
func PlanLayers(m ocispec.Manifest) ([]File, []TarLayer, error) {
	p, err := planLayers(m)
	return p.raw, p.tars, err
}

// ReadTarBlob fetches the tar layer t from target and calls fn for each
// regular file in it (see ReadTarLayer), then checks the blob's size and
// digest: a caller that keeps what fn saw must wait for a nil error.
func ReadTarBlob(ctx context.Context, target Target, t TarLayer, lim TarLimits, fn TarFileFunc) error {
	return readTarBlob(ctx, target, t, lim, fn)
}

func imageResources(ctx context.Context, target Target, m ocispec.Manifest, lim TarLimits) ([]Resource, error) {
	dir, err := os.MkdirTemp("", "modelverify-image-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fs, err := ReadImage(ctx, target, m, dir, ImageOptions{TarLimits: lim})
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	var out []Resource
	for _, p := range fs.Files() {
		f, err := fs.Open(p)
		if err != nil {
			return nil, err
		}
		sum, n, err := hashReader(ctx, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, Resource{Path: p, Digest: sum, Size: n})
	}
	return out, nil
}

// readTarBlob fetches a tar layer, calls fn for each file, and verifies the
// blob's size and digest at the end (when fn has seen every file, so a
// caller that keeps anything must wait for a nil error).
func readTarBlob(ctx context.Context, target Target, t TarLayer, lim TarLimits, fn TarFileFunc) error {
	rc, err := target.Fetch(ctx, t.Desc)
	if err != nil {
		return fmt.Errorf("fetch layer %s: %w", t.Desc.Digest, err)
	}
	defer rc.Close()
	return readTarFrom(ctx, rc, t, lim, fn)
}

// readTarFrom is readTarBlob on an open blob stream.
func readTarFrom(ctx context.Context, rc io.Reader, t TarLayer, lim TarLimits, fn TarFileFunc) error {
	vr, err := NewVerifyingReader(rc, t.Desc)
	if err != nil {
		return err
	}
	if err := ReadTarLayer(ctx, vr, t.Format, lim, fn); err != nil {
		return fmt.Errorf("layer %s: %w", t.Desc.Digest, err)
	}
	if err := vr.Verify(); err != nil {
		return fmt.Errorf("layer %s: %w", t.Desc.Digest, err)
	}
	return nil
}

// MetadataIgnore is the version control metadata that is never part of a
// model: neither pushed nor signed. It is the reference signing tool's
// default ignore list, and package sign's DefaultIgnorePaths.
var MetadataIgnore = []string{".git", ".gitattributes", ".github", ".gitignore"}

// DefaultIgnore is what Push leaves out of a model directory when
// PushOptions.Ignore is nil: MetadataIgnore, and the detached signature and
// scan attestation files, which are stored as referrers instead. A folder
// signed in place and then pushed therefore has the same OMS root digest
// as the artifact.
var DefaultIgnore = append(append([]string{}, MetadataIgnore...), "model.sig", "model.scan.sig")

// ignored reports whether rel (slash-separated) is an ignore entry or lies
// under one. Entries are paths relative to the model root.
func ignored(rel string, ignore []string) bool {
	for _, ig := range ignore {
		ig = strings.Trim(filepath.ToSlash(ig), "/")
		if ig == "" {
			continue
		}
		if rel == ig || strings.HasPrefix(rel, ig+"/") {
			return true
		}
	}
	return false
}

// listFiles walks dir and returns the regular files under it as relative,
// slash-separated paths, sorted. Symlinks and special files are refused.
func listFiles(ctx context.Context, dir string, ignore []string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			if !d.IsDir() {
				return fmt.Errorf("%s: not a directory", dir)
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignored(rel, ignore) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symlink", ErrUnsafePath, rel)
		case !t.IsRegular():
			return fmt.Errorf("%w: %s is not a regular file", ErrUnsafePath, rel)
		}
		if err := ValidatePath(rel); err != nil {
			return err
		}
		out = append(out, rel)
		if len(out) > MaxLayers {
			return fmt.Errorf("%w: more than %d files", ErrTooLarge, MaxLayers)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkPathSet(out); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// hashReader returns the sha256 and length of what r holds.
func hashReader(ctx context.Context, r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: r}, make([]byte, 1<<20))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// hashFile streams the file and returns its sha256 and size. onBytes, when
// not nil, is told how many bytes were read as they are read.
func hashFile(ctx context.Context, name string, onBytes func(int64)) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	var r io.Reader = &ctxReader{ctx: ctx, r: f}
	if onBytes != nil {
		r = &countReader{r: r, fn: onBytes}
	}
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// FolderResources hashes every regular file under dir, in parallel, and
// returns the resources sorted by path. ignore lists paths relative to dir
// (files or directories) to leave out; nothing is ignored by default. A
// symlink or special file anywhere in the tree is refused with ErrUnsafePath.
func FolderResources(ctx context.Context, dir string, ignore []string) ([]Resource, error) {
	return folderResources(ctx, dir, ignore, 0, nil)
}

func folderResources(ctx context.Context, dir string, ignore []string, concurrency int, onBytes func(string, int64)) ([]Resource, error) {
	files, err := listFiles(ctx, dir, ignore)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	out := make([]Resource, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrencyOr(concurrency))
	for i, rel := range files {
		g.Go(func() error {
			var fn func(int64)
			if onBytes != nil {
				fn = func(n int64) { onBytes(rel, n) }
			}
			sum, n, err := hashFile(gctx, filepath.Join(dir, filepath.FromSlash(rel)), fn)
			if err != nil {
				return fmt.Errorf("hash %s: %w", rel, err)
			}
			out[i] = Resource{Path: rel, Digest: sum, Size: n}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func concurrencyOr(n int) int {
	if n <= 0 {
		return DefaultConcurrency
	}
	return n
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type countReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
}
