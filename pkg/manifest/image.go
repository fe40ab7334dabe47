package manifest

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Whiteout names of the OCI image layer specification.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// ImageFilesystem is the file tree of a container image after its layers
// were applied in order, staged as flat files in a folder of root.
type ImageFilesystem struct {
	root  *os.Root
	files map[string]string // path -> staged name
	dirs  map[string]int    // directory -> files under it
	// Notes say what was read as what and what was skipped.
	Notes []string
}

func newImageFS(root *os.Root) *ImageFilesystem {
	return &ImageFilesystem{root: root, files: map[string]string{}, dirs: map[string]int{}}
}

func (t *ImageFilesystem) add(p, name string) {
	t.remove(p)
	t.removeUnder(p)
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		t.remove(d) // a file replaced by a directory
	}
	t.files[p] = name
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		t.dirs[d]++
	}
}

func (t *ImageFilesystem) remove(p string) {
	name, ok := t.files[p]
	if !ok {
		return
	}
	delete(t.files, p)
	t.root.Remove(name)
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if t.dirs[d]--; t.dirs[d] <= 0 {
			delete(t.dirs, d)
		}
	}
}

// removeUnder removes every file under directory d ("" is the root).
func (t *ImageFilesystem) removeUnder(d string) {
	if d != "" && t.dirs[d] == 0 {
		return
	}
	for p := range t.files {
		if d == "" || strings.HasPrefix(p, d+"/") {
			t.remove(p)
		}
	}
}

// Files returns the staged files by path, sorted.
func (t *ImageFilesystem) Files() []string {
	out := make([]string, 0, len(t.files))
	for p := range t.files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Open opens the file at p.
func (t *ImageFilesystem) Open(p string) (*os.File, error) { return t.root.Open(t.files[p]) }

// ImageOptions configure reading an image's filesystem.
type ImageOptions struct {
	// Path, when not empty, keeps only the files under this folder of the
	// image ("/models"), named relative to it.
	Path string
	// TarLimits bound each layer.
	TarLimits TarLimits
}

// applyImage applies the layers of image m from target in order into a new
// ImageFilesystem whose files are staged in root under names from newName.
// Whiteouts (.wh.NAME) delete what lower layers had at NAME, opaque markers
// (.wh..wh..opq) everything lower layers had in their folder; a file in an
// upper layer replaces a file or folder at its path. Symbolic and hard
// links, devices and FIFOs are skipped (never created) and counted in a
// note. Every layer's digest is verified.
func applyImage(ctx context.Context, target Target, m ocispec.Manifest, root *os.Root, newName func() string, opts ImageOptions) (*ImageFilesystem, error) {
	prefix := strings.Trim(path.Clean("/"+opts.Path), "/")
	if opts.Path != "" && prefix != "" {
		if err := ValidatePath(prefix); err != nil {
			return nil, err
		}
	}
	fs := newImageFS(root)
	var entries int
	for i, l := range m.Layers {
		form, ok := ImageLayerFormat(l.MediaType)
		if !ok {
			return nil, fmt.Errorf("%w: image layer %d (%s) has media type %q", ErrUnsupportedLayer, i, l.Digest, l.MediaType)
		}
		type staged struct{ p, name string }
		var files []staged
		var whiteouts, opaques []string
		skipped := 0
		t := TarLayer{Desc: l, Format: form}
		err := func() error {
			rc, err := target.Fetch(ctx, l)
			if err != nil {
				return fmt.Errorf("fetch layer %s: %w", l.Digest, err)
			}
			defer rc.Close()
			vr, err := NewVerifyingReader(rc, l)
			if err != nil {
				return err
			}
			err = readTar(ctx, vr, form, opts.TarLimits, func(p string, size int64, r io.Reader) error {
				entries++
				if entries > MaxImageEntries {
					return fmt.Errorf("%w: more than %d files in an image", ErrTooLarge, MaxImageEntries)
				}
				dir, base := path.Split(p)
				dir = strings.TrimSuffix(dir, "/")
				switch {
				case base == whiteoutOpaque:
					opaques = append(opaques, dir)
					return nil
				case strings.HasPrefix(base, whiteoutPrefix):
					whiteouts = append(whiteouts, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
					return nil
				}
				rel, ok := underPrefix(p, prefix)
				if !ok {
					return nil
				}
				name := newName()
				if _, err := writeStaged(root, name, r, size); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				files = append(files, staged{rel, name})
				return nil
			}, func(*tar.Header) { skipped++ })
			if err != nil {
				return err
			}
			if err := vr.Verify(); err != nil {
				return fmt.Errorf("layer %s: %w", t.Desc.Digest, err)
			}
			return nil
		}()
		if err != nil {
			for _, f := range files {
				root.Remove(f.name)
			}
			return nil, fmt.Errorf("image layer %d: %w", i, err)
		}
		// Whiteouts hide what lower layers hold, never the same layer's files.
		for _, d := range opaques {
			if rel, ok := underPrefixDir(d, prefix); ok {
				fs.removeUnder(rel)
			}
		}
		for _, w := range whiteouts {
			if rel, ok := underPrefixDir(w, prefix); ok {
				if rel == "" {
					fs.removeUnder("")
				} else {
					fs.remove(rel)
					fs.removeUnder(rel)
				}
			}
		}
		for _, f := range files {
			fs.add(f.p, f.name)
		}
		note := fmt.Sprintf("layer %d (%s, %s): read as an image filesystem changeset: %d files, %d whiteouts", i, l.Digest, l.MediaType, len(files), len(whiteouts)+len(opaques))
		if skipped > 0 {
			note += fmt.Sprintf(", %d links or special files skipped", skipped)
		}
		fs.Notes = append(fs.Notes, note)
	}
	return fs, nil
}

// underPrefix returns p relative to the folder prefix ("" keeps everything).
func underPrefix(p, prefix string) (string, bool) {
	if prefix == "" {
		return p, true
	}
	rel, ok := strings.CutPrefix(p, prefix+"/")
	return rel, ok
}

// underPrefixDir is underPrefix for a whiteout target: a folder above the
// prefix maps to the prefix's root ("").
func underPrefixDir(d, prefix string) (string, bool) {
	if prefix == "" {
		return d, true
	}
	if d == "" || d == prefix || strings.HasPrefix(prefix, d+"/") {
		if d == prefix || d == "" || strings.HasPrefix(prefix, d+"/") {
			return "", true
		}
	}
	return underPrefix(d, prefix)
}

// ReadImage applies the layers of image m from target (see PullOptions for
// the rules) into dir, which must exist and is left to the caller to
// remove. The returned filesystem stays readable until dir is removed.
func ReadImage(ctx context.Context, target Target, m ocispec.Manifest, dir string, opts ImageOptions) (*ImageFilesystem, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	var n int
	return applyImage(ctx, target, m, root, func() string { n++; return fmt.Sprint(n) }, opts)
}

// Close releases the folder handle; ReadImage's caller calls it.
func (t *ImageFilesystem) Close() error { return t.root.Close() }
